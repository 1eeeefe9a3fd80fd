"""What the dashboard's tables cost the processor: search terms, data counts and rejection counts
(store/derived.py), measured as processing throughput with and without them.

Three workloads, each appended to a fresh store's log first (not timed), then applied by `drain` (timed);
the user workloads update users created beforehand (not timed):
- events: 100,000 events of 10,000 users (the processor benchmark's workload: new users, then events);
- users_sync: 50,000 updates of 10,000 users with text, number, array and boolean attributes, each user
  sent the same values every time (a CRM sync: nothing searchable changes after the first);
- users_churn: the same, but every searchable value changes on every update (the worst case for the
  search terms), 2% with a type conflict (a rejection).
"Off" replaces the backend's `derived.write` with a no-op (the planner's small count of user attribute
values stays). Repeats alternate the order of on and off; the report gives each run and the median of
paired ratios (on / off), of wall time and of the process's CPU time (on SQLite the processor's whole
cost; PostgreSQL's own work is not in it). Timings on a shared machine are indicative only.

Usage: python bench/derived_cost.py [--database-url postgresql://…] [--reps 3] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from openengage.processor.worker import drain  # noqa: E402
from openengage.records import EventRecord, Record, UserRecord, encode_records  # noqa: E402
from openengage.settings import Settings  # noqa: E402
from openengage.store import open_store  # noqa: E402
from openengage.store.base import Submission  # noqa: E402
from openengage.store.postgres import derived as pg_derived  # noqa: E402
from openengage.store.sqlite import derived as sqlite_derived  # noqa: E402


def events_workload(scale: float) -> list[Record]:
    n, users = int(100_000 * scale), max(1, int(10_000 * scale))
    return [
        EventRecord("Added to Cart", user_id=f"user-{i % users}", time_ms=1_537_064_940_000 + i,
                    data=bench.event(i)["eventData"])
        for i in range(n)
    ]  # fmt: skip


def users_workload(scale: float, churn: bool = True) -> list[Record]:
    """User updates; `churn`: every searchable value changes on every update (the worst case), else the
    same values are sent again (a CRM sync)."""
    n, users = int(50_000 * scale), max(1, int(10_000 * scale))
    out: list[Record] = []
    for i in range(n):
        if not churn:
            i = i % users
        attributes: dict[str, Any] = {
            "Plan": ("Free", "Pro", "Gold")[i % 3], "Orders": i % 97, "City": f"City {i % 50}",
            "Tags": [f"t{i % 7}", f"t{i % 11}"], "Verified": i % 2 == 0, "LastSeenPage": f"/page/{i % 300}",
        }  # fmt: skip
        if i % 50 == 0 and churn:
            attributes["Orders"] = "many"  # a type conflict: a rejection
        system = {"email": f"user{i % users}@example.com", "firstName": f"Name{i % users}"}
        out.append(UserRecord(user_id=f"user-{i % users}", system=system, attributes=attributes))
    return out


async def timed(url: str, records: list[Record], setup: list[Record] | None = None) -> tuple[float, float]:
    """Append `records` (25 a log entry) to a fresh store's log, then time applying them: (records per
    second of wall time, records per second of this process's CPU time). On SQLite all the work is in
    this process, so the CPU figure is what the processor spends, whatever else the machine runs.
    `setup` is applied first, untimed (the users the updates go to)."""
    creds = bench.account(url)
    acc = int(creds["account_id"])
    store = open_store(Settings.from_env({}, database_url=url))
    await store.open()
    try:
        if setup:
            await append(store, acc, setup)
            await drain(store)
        await append(store, acc, records)
        t0, c0 = time.perf_counter(), time.process_time()
        applied = await drain(store)
        return applied / (time.perf_counter() - t0), applied / (time.process_time() - c0)
    finally:
        await store.close()


async def append(store: Any, acc: int, records: list[Record]) -> None:
    subs = [Submission(acc, "bulk", 1, 0, encode_records(records[i : i + 25]), len(records[i : i + 25]))
            for i in range(0, len(records), 25)]  # fmt: skip
    for i in range(0, len(subs), 200):
        await store.append(subs[i : i + 200])


def measure(
    url_of: Callable[[str], str], workload: list[Record], reps: int, setup: list[Record] | None = None
) -> dict[str, Any]:
    runs: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    saved = (sqlite_derived.write, pg_derived.write)

    async def nothing_async(*args: Any) -> None:
        return None

    for rep in range(reps):
        for mode in ("off", "on") if rep % 2 == 0 else ("on", "off"):
            if mode == "off":
                sqlite_derived.write = lambda *args: None  # type: ignore[assignment]
                pg_derived.write = nothing_async  # type: ignore[assignment]
            try:
                runs[mode].append(asyncio.run(timed(url_of(f"{mode}{rep}"), workload, setup)))
            finally:
                sqlite_derived.write, pg_derived.write = saved
    ratios = [on[0] / off[0] for on, off in zip(runs["on"], runs["off"], strict=True)]
    cpu_ratios = [on[1] / off[1] for on, off in zip(runs["on"], runs["off"], strict=True)]
    return {
        "on_records_per_s": [round(r[0]) for r in runs["on"]],
        "off_records_per_s": [round(r[0]) for r in runs["off"]],
        "ratios": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "on_records_per_cpu_s": [round(r[1]) for r in runs["on"]],
        "off_records_per_cpu_s": [round(r[1]) for r in runs["off"]],
        "cpu_ratios": [round(r, 3) for r in cpu_ratios],
        "median_cpu_ratio": round(statistics.median(cpu_ratios), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (scratch databases are made)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:

        def url_of(name: str) -> str:
            return bench.fresh_store(args.database_url, Path(tmp), f"derived_{name}_{time.monotonic_ns()}")

        users = max(1, int(10_000 * args.scale))
        existing = users_workload(args.scale, churn=False)[:users]  # the users, created before the timing
        workloads = {
            "events": (events_workload(args.scale), None),
            "users_sync": (users_workload(args.scale, churn=False), existing),
            "users_churn": (users_workload(args.scale, churn=True), existing),
        }
        for name, (workload, setup) in workloads.items():
            result[name] = measure(url_of, workload, args.reps, setup)
            print(name, json.dumps(result[name]), flush=True)
    backend = "postgres" if args.database_url else "sqlite"
    out = HERE / "results" / f"derived-cost-{backend}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
