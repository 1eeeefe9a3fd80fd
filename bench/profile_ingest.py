"""Profile `serve` under ingest load: py-spy samples the API worker and the processor while wrk sends.

Usage:
  .venv/bin/python bench/profile_ingest.py [--kind single|bulk] [--seconds 15] [--database-url URL] [--top 25]

`openengage serve` runs as users run it (one API worker and the processor, unpinned, bench_server.py), wrk
sends single `/events` (or `/bulk-events` of 25) at 32 connections as serve_bench.py does, and
`py-spy record --subprocesses` samples every thread of every process of the server for the same seconds.
Printed: wrk's figures, then per process (API worker, processor) its CPU seconds over the run and the top
functions by self and by total samples (idle samples excluded), from py-spy's collapsed stacks. This is
what tells where a request's CPU goes next to the bare app's (bench/bare_app.py), which does the same
parse and stores nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (bench.py's helpers: wrk, scripts, the server)
from profile_processor import summarize  # noqa: E402

BULK = 25
ROLES = {"_api_child": "API worker", "_processor_child": "processor", "_sender_child": "sender"}


def server_pid(port: int) -> int:
    """The pid of the bench server listening on `port` (bench_server.py's command line names it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"bench_server.py") for a in argv) and str(port).encode() in argv:
            return int(entry.name)
    raise RuntimeError(f"no bench server on port {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def split_by_process(raw: Path, out_dir: Path) -> dict[int, Path]:
    """py-spy's raw lines per process (`process PID:"cmd";thread…;frames… N`), each in a file of its own."""
    lines: dict[int, list[str]] = collections.defaultdict(list)
    for line in raw.read_text().splitlines():
        if line.startswith("process "):
            pid = int(line.split(":", 1)[0].removeprefix("process ").strip())
            lines[pid].append(line)
    files = {}
    for pid, got in lines.items():
        files[pid] = out_dir / f"{pid}.txt"
        files[pid].write_text("\n".join(got) + "\n")
    return files


def role_of(stacks: Path) -> str:
    text = stacks.read_text()
    for fn, role in ROLES.items():
        if f"{fn} (" in text:
            return role
    return "serve (supervisor)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--kind", choices=("single", "bulk"), default="single")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="oe-prof-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        url = bench.fresh_store(args.database_url, tmp, "prof")
        creds = bench.account(url)
        lc, key = creds["license_code"], creds["api_key"]
        if args.kind == "single":
            bodies = [json.dumps(bench.event(i)) for i in range(1000)]
            script = bench.lua_script(f"/v1/accounts/{lc}/events", bodies, key, tmp, "single")
        else:
            bodies = [json.dumps({"events": [bench.event(i * BULK + j) for j in range(BULK)]}) for i in range(200)]
            script = bench.lua_script(f"/v1/accounts/{lc}/bulk-events", bodies, key, tmp, "bulk")
        with bench.server(url, cpus=None, processor=True) as base:
            bench.run_wrk(base, script, 2, cpus=None)  # warm-up
            root = server_pid(int(base.rsplit(":", 1)[1]))
            pids = children(root)
            before = {pid: cpu_seconds(pid) for pid in pids}
            raw = tmp / "stacks.txt"
            cmd = [spy, "record", "--format", "raw", "--rate", str(args.rate), "--threads", "--subprocesses"]
            cmd += ["--duration", str(round(args.seconds)), "--pid", str(root), "-o", str(raw)]
            spying = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # py-spy attached before the load starts
            result: dict[str, object] = {}
            load = threading.Thread(
                target=lambda: result.update(bench.run_wrk(base, script, args.seconds - 1, cpus=None))
            )
            load.start()
            load.join()
            _, err = spying.communicate(timeout=args.seconds + 60)
            used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
        per = float(result["rps"]) * (BULK if args.kind == "bulk" else 1)  # type: ignore[arg-type]
        print(f"wrk, {args.kind}: {result['rps']:,.0f} req/s ({per:,.0f} events/s), p50 {result['p50_ms']} ms, "
              f"p99 {result['p99_ms']} ms (under py-spy: it slows each process a little)")  # fmt: skip
        if not raw.exists():
            raise SystemExit(f"py-spy wrote nothing: {err[-2000:]}")
        for pid, stacks in sorted(split_by_process(raw, tmp).items()):
            cpu = f"{used[pid]:.1f} CPU s over the run" if pid in used else ""
            print(f"\n## {role_of(stacks)} (pid {pid}) {cpu}\n")
            print(summarize(stacks, args.top))


if __name__ == "__main__":
    main()
