"""PostgreSQL with 1 and 2 nodes: ingest (append through the store) and processing rates.

Usage: .venv/bin/python bench/pg_nodes.py --database-url postgresql://postgres@127.0.0.1:5432/test

- append: K processes each append bulk requests of 25 events (80 requests per commit, as group
  commit batches them under load) for a fixed time; records/s summed over the processes;
- process: 100,000 events of 10,000 users are appended first (not timed), then K `openengage
  process --burst` processes drain the log together; records/s = events / wall time;
- http: K `openengage serve --no-processor` nodes over one database, one wrk per node at the same
  time (32 connections in all), single events and bulk requests of 25; req/s summed over the nodes.
Each scenario runs in a scratch database that is dropped afterwards. Everything (PostgreSQL, the
processes, this script) shares the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from openengage.records import EventRecord, encode_records
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Submission


def _event(i: int, users: int) -> EventRecord:
    data = {"Product ID": i % 5000, "Price": 39.8, "Quantity": 1, "Product": "Givenchy Pour Homme", "Currency": "USD"}
    return EventRecord("Added to Cart", user_id=f"user-{i % users}", time_ms=1_537_064_940_000 + i, data=data)


def _submissions(acc: int, start: int, count: int, users: int) -> list[Submission]:
    subs = []
    for i in range(start, start + count, 25):
        records = [_event(i + j, users) for j in range(25)]
        subs.append(Submission(acc, "bulk", 1, 0, encode_records(list(records)), 25))
    return subs


def _append_worker(url: str, acc: int, seconds: float, offset: int, out: Any) -> None:
    async def run() -> int:
        store = open_store(Settings.from_env({}, database_url=url))
        await store.open()
        try:
            subs = _submissions(acc, offset, 2000, 10_000)
            done, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                await store.append(subs)
                done += 2000
            return done
        finally:
            await store.close()

    out.put(asyncio.run(run()))


class Scratch:
    def __init__(self, url: str, name: str) -> None:
        self.admin, self.name = url, f"oe_bench_{name}_{os.getpid()}"
        self.url = url.rsplit("/", 1)[0] + "/" + self.name

    def __enter__(self) -> Scratch:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def _account(url: str) -> int:
    store = open_store(Settings.from_env({}, database_url=url))
    await store.migrate()
    await store.open()
    try:
        return (await store.create_account("bench", "o@bench.test")).account_id
    finally:
        await store.close()


def append_rate(url: str, nodes: int, seconds: float) -> float:
    with Scratch(url, f"append{nodes}") as db:
        acc = asyncio.run(_account(db.url))
        ctx = multiprocessing.get_context("spawn")
        out: Any = ctx.Queue()
        procs = [
            ctx.Process(target=_append_worker, args=(db.url, acc, seconds, k * 1_000_000, out)) for k in range(nodes)
        ]
        for p in procs:
            p.start()
        total = sum(out.get() for _ in procs)
        for p in procs:
            p.join()
        return total / seconds


def process_rate(url: str, nodes: int, events: int = 100_000) -> float:
    with Scratch(url, f"process{nodes}") as db:
        acc = asyncio.run(_account(db.url))

        async def fill() -> None:
            store = open_store(Settings.from_env({}, database_url=db.url))
            await store.open()
            try:
                subs = _submissions(acc, 0, events, 10_000)
                for k in range(0, len(subs), 80):
                    await store.append(subs[k : k + 80])
            finally:
                await store.close()

        asyncio.run(fill())
        env = {**os.environ, "OPENENGAGE_DATABASE_URL": db.url}
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "openengage", "process", "--burst"], env=env, stdout=subprocess.PIPE
            )
            for _ in range(nodes)
        ]
        applied = 0
        for p in procs:
            stdout, _ = p.communicate(timeout=600)
            applied += int(stdout.split()[1])
        elapsed = time.perf_counter() - t0
        assert applied == events, applied
        return events / elapsed


def http_rate(url: str, nodes: int, seconds: float) -> dict[str, float]:
    import bench  # bench/bench.py: the same servers, wrk scripts and bodies as the SQLite benchmark

    with Scratch(url, f"http{nodes}") as db, tempfile.TemporaryDirectory(prefix="oe-bench-") as tmpdir:
        tmp = Path(tmpdir)
        creds = bench.account(db.url)
        lc, key = creds["license_code"], creds["api_key"]
        singles = [json.dumps(bench.event(i)) for i in range(1000)]
        bulks = [json.dumps({"events": [bench.event(i * 25 + j) for j in range(25)]}) for i in range(200)]
        scripts = {
            "events": (bench.lua_script(f"/v1/accounts/{lc}/events", singles, key, tmp, "events"), 1),
            "bulk_events": (bench.lua_script(f"/v1/accounts/{lc}/bulk-events", bulks, key, tmp, "bulk"), 25),
        }
        result: dict[str, float] = {}
        with contextlib.ExitStack() as stack:
            bases = [stack.enter_context(bench.server(db.url, cpus=None, processor=False)) for _ in range(nodes)]
            for name, (script, per_request) in scripts.items():
                with ThreadPoolExecutor(nodes) as pool:
                    for duration in (2, seconds):  # a warm-up, then the measured run
                        wrk = functools.partial(
                            bench.run_wrk, script=script, duration=duration, connections=32 // nodes
                        )
                        runs = list(pool.map(lambda b, w=wrk: w(b, cpus=None), bases))
                rps = sum(r["rps"] for r in runs)
                result[f"http_{name}_req_per_s_{nodes}_node"] = round(rps)
                result[f"http_{name}_records_per_s_{nodes}_node"] = round(rps * per_request)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--only", default="append,process,http")
    args = parser.parse_args()
    only = set(args.only.split(","))
    report: dict[str, Any] = {}
    for nodes in (1, 2):
        if "append" in only:
            report[f"append_records_per_s_{nodes}_node"] = round(append_rate(args.database_url, nodes, args.seconds))
        if "process" in only:
            report[f"process_records_per_s_{nodes}_node"] = round(process_rate(args.database_url, nodes))
        if "http" in only:
            report.update(http_rate(args.database_url, nodes, args.seconds))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
