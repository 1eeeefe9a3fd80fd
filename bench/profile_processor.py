"""Profile the processor draining a backlog: py-spy samples every thread of a `drain` over a prepared log.

Usage:
  .venv/bin/python bench/profile_processor.py [--database-url postgresql://...] [--events 100000] [--top 25]

The log is filled first (not profiled: 100,000 events of 10,000 users, bulk entries of 25, as bench.py's
processor run), then a child process opens the store and drains it under `py-spy record` (install py-spy
into the venv: `pip install py-spy`). Printed: wall time and records/s, the child's CPU time (and, on
PostgreSQL, the server's: the backends' CPU from pg_stat_activity pids), then the top functions by
self time and by total time, from py-spy's collapsed stacks (idle samples excluded). On SQLite the
processor's writes run on its processing thread, which py-spy samples too.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (bench/ is on the path: bench.py's helpers)


def prepare(url: str, events: int) -> None:
    """An account and `events` events appended to its log (bench.py's processor workload)."""
    from openengage.records import EventRecord, encode_records
    from openengage.settings import Settings
    from openengage.store import open_store
    from openengage.store.base import Submission

    creds = bench.account(url)
    acc = int(creds["account_id"])

    async def run() -> None:
        store = open_store(Settings.from_env({}, database_url=url))
        await store.open()
        try:
            batch: list[Submission] = []
            for i in range(0, events, 25):
                records = [
                    EventRecord(
                        "Added to Cart",
                        user_id=f"user-{(i + j) % 10_000}",
                        time_ms=1_537_064_940_000 + i + j,
                        data=bench.event(i + j)["eventData"],
                    )
                    for j in range(25)
                ]
                batch.append(Submission(acc, "bulk", 1, 0, encode_records(records), 25))
                if len(batch) == 80:
                    await store.append(batch)
                    batch = []
            if batch:
                await store.append(batch)
        finally:
            await store.close()

    asyncio.run(run())


def drain_child(url: str, out: str) -> None:
    """Runs in the profiled child: open the store, drain, write the figures to `out`."""
    from openengage.lifecycle import tune_gc
    from openengage.processor.worker import drain
    from openengage.settings import Settings
    from openengage.store import open_store

    tune_gc()  # as the processor of `serve` and `process` does

    async def run() -> dict[str, Any]:
        store = open_store(Settings.from_env({}, database_url=url))
        await store.open()
        try:
            pg = url.startswith("postgresql")
            lsn = wal_lsn(url) if pg else None
            t0 = time.perf_counter()
            applied = await drain(store)
            result: dict[str, Any] = {"records": applied, "seconds": time.perf_counter() - t0}
            if pg:  # the server's share: its backends' CPU (read while they are still open), and WAL
                result["postgres_cpu_seconds"] = backends_cpu(url)
                result["wal_bytes"] = wal_bytes_since(url, lsn)
            return result
        finally:
            await store.close()

    result = asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    Path(out).write_text(json.dumps(result))


def wal_lsn(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]


def wal_bytes_since(url: str, lsn: str | None) -> int:
    """WAL the whole cluster wrote since `lsn` (an upper bound when other databases are busy too)."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (lsn,)).fetchone()
        return int(row[0]) if row else 0


def backends_cpu(url: str) -> float:
    """CPU seconds used by the PostgreSQL backends connected to this database (the server runs here)."""
    import psycopg

    with psycopg.connect(url) as conn:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        pids = [row[0] for row in conn.execute(query).fetchall()]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def summarize(raw: Path, top: int, lines_too: bool = False) -> str:
    """Top functions by self and by total samples from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not lines_too:  # "fn (file.py:12)" -> "fn (file.py)": one entry per function
            frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") and ":" in f else f for f in frames]
        if not frames:
            continue
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    lines = [f"{samples} samples (non-idle)", "", "self %  function"]
    lines += [f"{100 * n / samples:5.1f}  {f}" for f, n in own.most_common(top)]
    lines += ["", "total %  function"]
    lines += [f"{100 * n / samples:5.1f}  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--lines", action="store_true", help="one entry per line, not per function")
    parser.add_argument("--drain-child", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain_child:
        drain_child(*args.drain_child)
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="oe-prof-") as tmpdir:
        tmp = Path(tmpdir)
        url = bench.fresh_store(args.database_url, tmp, "prof")
        prepare(url, args.events)
        raw, out = tmp / "stacks.txt", tmp / "result.json"
        cmd = [spy, "record", "--format", "raw", "--rate", str(args.rate), "--threads", "-o", str(raw), "--"]
        cmd += [sys.executable, __file__, "--drain-child", url, str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        result = json.loads(out.read_text())
        rate = result["records"] / result["seconds"]
        print(f"drained {result['records']} records in {result['seconds']:.2f} s = {rate:,.0f} records/s")
        print(f"processor CPU {result['cpu_seconds']:.2f} s", end="")
        if args.database_url:
            print(f"; PostgreSQL CPU {result['postgres_cpu_seconds']:.2f} s", end="")
            print(f"; WAL {result['wal_bytes'] / result['records']:,.0f} bytes per record (whole cluster)", end="")
        print(" (profiled: py-spy slows the process a little)\n")
        print(summarize(raw, args.top, args.lines))


if __name__ == "__main__":
    main()
