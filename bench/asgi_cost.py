"""CPU per ingest request of the app in-process, next to the bare app: no HTTP server, no wrk.

Usage:
  .venv/bin/python bench/asgi_cost.py [--kind single|bulk] [--requests 20000] [--reps 3] [--profile]

The ASGI app (`create_app`, a real SQLite store, the group commit and its fsync) is called directly by 32
concurrent coroutines posting `/events` (or `/bulk-events` of 25), the way uvicorn would call it, after
2,000 warm-up requests; then bench/bare_app.py the same way. Printed per run: CPU µs a request of the
event loop's thread (`time.thread_time`) and of the whole process (the commit thread's SQLite and fsync
included), and requests a second. Runs alternate (bare, app, bare, app, ...) and the medians are printed
last. What it leaves out is what both apps share: uvicorn and httptools (~75 µs a single request on this
machine kind), so it shows OpenEngage's own cost per request more sharply than the HTTP benches do.
`--profile` prints cProfile's top entries of one extra app run (cProfile slows it ~2x; read the shares).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402
import uvloop  # noqa: E402

import bare_app  # noqa: E402
import bench  # noqa: E402

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
CONCURRENCY = 32


def scope(path: bytes, key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path.decode(),
        "raw_path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"wrk"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-length", b"200"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def drive(app: App, path: bytes, key: str, bodies: list[bytes], n: int) -> dict[int, int]:
    """`n` requests, CONCURRENCY at a time; the answers' status counts."""
    statuses: dict[int, int] = {}

    async def one(body: bytes) -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # asked again only to watch for a disconnect: never comes
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope(path, key), receive, send)

    async def worker(first: int) -> None:
        for i in range(first, n, CONCURRENCY):
            await one(bodies[i % len(bodies)])

    await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
    return statuses


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="oe-asgi-"))
    url = f"sqlite:///{tmp / 'oe.db'}"
    creds = bench.account(url)
    os.environ["OPENENGAGE_DATABASE_URL"] = url
    from openengage.app import create_app  # after the store's URL is in the environment

    if args.kind == "bulk":
        bodies = [orjson.dumps({"events": [bench.event(i * 25 + j) for j in range(25)]}) for i in range(40)]
        path = f"/v1/accounts/{creds['license_code']}/bulk-events".encode()
    else:
        bodies = [orjson.dumps(bench.event(i)) for i in range(1000)]
        path = f"/v1/accounts/{creds['license_code']}/events".encode()
    key, n = creds["api_key"], args.requests
    app = create_app()
    figures: dict[str, list[tuple[float, float, float]]] = {"bare": [], "app": []}
    async with app.router.lifespan_context(app):
        await drive(app, path, key, bodies, 2000)
        await drive(bare_app.app, path, key, bodies, 2000)
        for rep in range(args.reps):
            for name, target in (("bare", bare_app.app), ("app", app)):
                t0, c0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
                statuses = await drive(target, path, key, bodies, n)
                t1, c1, w1 = time.thread_time(), time.process_time(), time.perf_counter()
                if statuses != {201: n}:
                    raise SystemExit(f"{name}: unexpected answers {statuses}")
                loop_us, process_us, rate = 1e6 * (t1 - t0) / n, 1e6 * (c1 - c0) / n, n / (w1 - w0)
                figures[name].append((loop_us, process_us, rate))
                print(f"rep {rep + 1} {name:4}  event loop {loop_us:6.1f} µs/req  process {process_us:6.1f} µs/req"
                      f"  {rate:8,.0f} req/s", flush=True)  # fmt: skip
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await drive(app, path, key, bodies, n)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    print(f"\nmedians over {args.reps} reps, {args.kind}, {n} requests each:")
    for name, rows in figures.items():
        loop_us, process_us, rate = (statistics.median(col) for col in zip(*rows, strict=True))
        print(f"  {name:4}  event loop {loop_us:6.1f} µs/req  process {process_us:6.1f} µs/req  {rate:8,.0f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("single", "bulk"), default="single")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
