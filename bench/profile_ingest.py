"""Profile `serve` under ingest load: py-spy samples the API worker and the processor while wrk sends.

Usage:
  .venv/bin/python bench/profile_ingest.py [--kind single|bulk] [--seconds 15] [--database-url URL] [--top 25]

`openengage serve` runs as users run it (one API worker and the processor, unpinned, bench_server.py), wrk
sends single `/events` (or `/bulk-events` of 25) at 32 connections as serve_bench.py does, and
`py-spy record --subprocesses` samples every thread of every process of the server for the same seconds.
Printed: wrk's figures, then per process (API worker, processor) its CPU seconds over the run and the top
functions by self and by total samples of the thread holding the GIL (py-spy --gil: Python's CPU, waits
excluded), from py-spy's collapsed stacks. This is
what tells where a request's CPU goes next to the bare app's (bench/bare_app.py), which does the same
parse and stores nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
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
import serve_bench  # noqa: E402  (the bare app)
from profile_processor import summarize  # noqa: E402

BULK = 25
ROLES = {"_api_child": "API worker", "_processor_child": "processor", "_sender_child": "sender"}


def server_pid(port: int) -> int:
    """The pid of the server listening on `port` (bench_server.py's or the bare app's command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = any(a.endswith(b"bench_server.py") or a == b"bare_app:app" for a in argv)
        if ours and str(port).encode() in argv:
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


_PROCESS = re.compile(r'process (\d+):"[^"]*";')


def split_by_process(raw: Path, out_dir: Path) -> dict[int, Path]:
    """py-spy's raw lines per process, each in a file of its own. A child's stack starts with its
    parents' `process PID:"command line";` frames (command lines may hold `;`): the last one names it."""
    lines: dict[int, list[str]] = collections.defaultdict(list)
    for line in raw.read_text().splitlines():
        found = _PROCESS.findall(line)
        if found:
            lines[int(found[-1])].append(_PROCESS.sub("", line))
    files = {}
    for pid, got in lines.items():
        files[pid] = out_dir / f"{pid}.txt"
        files[pid].write_text("\n".join(got) + "\n")
    return files


def by_package(stacks: Path) -> str:
    """Self samples grouped by where the leaf frame's code lives (uvicorn, starlette, openengage's
    packages, asyncio…): coroutine stacks start mid-way, so totals undercount, but leaves are exact."""
    own: collections.Counter[str] = collections.Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith("thread ")]
        if not frames or not count.isdigit():
            continue
        where = frames[-1].rpartition("(")[2].rstrip(")").rsplit(":", 1)[0]
        parts = where.split("/")
        key = "/".join(parts[:2]) if parts[0] == "openengage" else parts[0].removesuffix(".py")
        own[key] += int(count)
    samples = sum(own.values())
    lines = ["self %  package or module (leaf frame)"]
    lines += [f"{100 * n / samples:5.1f}  {k}" for k, n in own.most_common(15)]
    return "\n".join(lines)


def role_of(stacks: Path) -> str:
    text = stacks.read_text()
    for fn, role in ROLES.items():
        if f"{fn} (" in text:
            return role
    return "bare app" if "bare_app.py" in text else "serve (supervisor)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--kind", choices=("single", "bulk"), default="single")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--bare", action="store_true", help="profile the bare app (bench/bare_app.py) instead")
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
        serving = serve_bench.bare_server(1) if args.bare else bench.server(url, cpus=None, processor=True)
        with serving as base:
            bench.run_wrk(base, script, 2, cpus=None)  # warm-up
            root = server_pid(int(base.rsplit(":", 1)[1]))
            pids = [root] if args.bare else children(root)
            before = {pid: cpu_seconds(pid) for pid in pids}
            raw = tmp / "stacks.txt"
            # --gil: only the thread holding the GIL is sampled, so waits (idle executor threads, the event
            # loop's select, fsyncs) drop out and what is left is Python's CPU; --nonblocking: the process
            # is never paused for a sample, which would slow it far more.
            cmd = [spy, "record", "--format", "raw", "--rate", str(args.rate), "--threads", "--subprocesses"]
            cmd += ["--gil", "--nonblocking"]
            cmd += ["--duration", str(round(args.seconds)), "--pid", str(root), "-o", str(raw)]
            spying = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # py-spy attached before the load starts
            result: dict[str, object] = {}
            load_seconds = max(1, round(args.seconds - 1))  # wrk takes whole seconds
            load = threading.Thread(target=lambda: result.update(bench.run_wrk(base, script, load_seconds, cpus=None)))
            load.start()
            load.join()
            if "rps" not in result:
                raise SystemExit("wrk failed (see above)")
            _, err = spying.communicate(timeout=args.seconds + 60)
            used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
        per = float(result["rps"]) * (BULK if args.kind == "bulk" else 1)  # type: ignore[arg-type]
        print(f"wrk, {args.kind}: {result['rps']:,.0f} req/s ({per:,.0f} events/s), p50 {result['p50_ms']} ms, "
              f"p99 {result['p99_ms']} ms (under py-spy: it slows each process a little)")  # fmt: skip
        if not raw.exists():
            raise SystemExit(f"py-spy wrote nothing: {err[-2000:]}")
        results = HERE / "results"
        results.mkdir(exist_ok=True)
        kept = results / f"profile-ingest-{args.kind}{'-bare' if args.bare else ''}.txt"
        shutil.copyfile(raw, kept)
        print(f"py-spy's raw stacks: {kept}")
        for pid, stacks in sorted(split_by_process(raw, tmp).items()):
            cpu = ""
            if pid in used:
                per = used[pid] / (float(result["rps"]) * load_seconds) * 1e6  # type: ignore[arg-type]
                cpu = f"{used[pid]:.1f} CPU s over the run, {per:,.0f} µs a request"
            print(f"\n## {role_of(stacks)} (pid {pid}) {cpu}\n")
            print(by_package(stacks) + "\n")
            print(summarize(stacks, args.top))


if __name__ == "__main__":
    main()
