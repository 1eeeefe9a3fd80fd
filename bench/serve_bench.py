"""Issue #9's figures, measured as users run OpenEngage: `openengage serve` (API and processor together,
no pinning) under `wrk -c32`, every figure next to its baseline measured in the same repeat.

Per repeat, in this order (the machine's speed drifts over minutes, so ratios are taken within a repeat
and the median reported):
1. the bare app (bench/bare_app.py: uvicorn + Starlette, parses the same JSON with orjson, stores nothing),
   single events, then `serve` single `/events` (the processor on, applying what arrives);
2. once the backlog is empty again: the bare app with bulk bodies (25 events), then `serve`
   `/bulk-events`; the end-to-end figure of that run: records acknowledged / seconds from the start of
   the load until `pending` is 0 again;
3. plain batched SQLite INSERTs of event rows (WAL, synchronous=FULL, 500 rows a commit) in a file next
   to the store, for `--insert-seconds`: the baseline of the end-to-end figure.
Then read-after-write: bulk load paced at half the median end-to-end rate (wrk, 8 connections) while a
probe sends single events for new users and polls `GET /users/{id}` until each is readable; p50/p99 of
the time from the 2xx to the first read that finds it.

Usage: .venv/bin/python bench/serve_bench.py [--database-url URL] [--duration 15] [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (bench.py's helpers: wrk, scripts, the server)

CONNECTIONS = 32
BULK = 25


@contextlib.contextmanager
def bare_server(workers: int) -> Iterator[str]:
    port = bench.free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools"]
    cmd += ["--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(base + "/v1/accounts/x/events", content=b"{}", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the bare app did not start")
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def wait_drained(base: str, lc: str, key: str, timeout: float = 300) -> float:
    """Poll until nothing is pending; returns the monotonic time it was first seen empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench.stats(base, lc, key)["pending"] == 0:
            return time.monotonic()
        time.sleep(0.1)
    raise RuntimeError(f"the backlog did not drain within {timeout:.0f} s")


def insert_baseline(path: Path, seconds: float, per_commit: int = 500) -> float:
    """Plain batched INSERTs (WAL, synchronous=FULL, `per_commit` rows a commit) of event rows: rows/s."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, profile_id INTEGER, name TEXT, time_ms INTEGER, data BLOB)"
    )
    conn.execute("CREATE INDEX events_profile ON events(profile_id, time_ms, id)")
    payload = json.dumps(bench.event(1)["eventData"]).encode()
    rows, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (profile_id, name, time_ms, data) VALUES (?, ?, ?, ?)",
            [((i % 10_000) + 1, "Added to Cart", i, payload) for i in range(rows, rows + per_commit)],
        )
        conn.execute("COMMIT")
        rows += per_commit
    elapsed = time.perf_counter() - t0
    conn.close()
    return rows / elapsed


def probe(base: str, lc: str, key: str, stop: threading.Event, out: list[float], tag: str) -> None:
    """Single events for new users, one at a time; each is polled until readable (seconds from its 2xx)."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        n = 0
        while not stop.is_set():
            user = f"raw-{tag}-{n}"
            n += 1
            body = {"userId": user, "eventName": "Probe", "eventData": {"n": n}}
            if client.post(f"/v1/accounts/{lc}/events", json=body).status_code != 201:
                continue
            acked = time.monotonic()
            while time.monotonic() - acked < 30:
                if client.get(f"/v1/accounts/{lc}/users/{user}").status_code == 200:
                    out.append(time.monotonic() - acked)
                    break
                time.sleep(0.002)
            stop.wait(0.05)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="postgresql://... (default: SQLite)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of each wrk run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="API workers, of serve and of the bare app")
    parser.add_argument("--insert-seconds", type=float, default=4.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    duration, reps = (4.0, 1) if args.quick else (args.duration, args.reps)
    with tempfile.TemporaryDirectory(prefix="oe-serve-bench-") as tmpdir:
        tmp = Path(tmpdir)
        url = bench.fresh_store(args.database_url, tmp, "serve")
        creds = bench.account(url)
        lc, key = creds["license_code"], creds["api_key"]
        singles = [json.dumps(bench.event(i)) for i in range(1000)]
        bulks = [json.dumps({"events": [bench.event(i * BULK + j) for j in range(BULK)]}) for i in range(200)]
        scripts = {
            "single": bench.lua_script(f"/v1/accounts/{lc}/events", singles, key, tmp, "single"),
            "bulk": bench.lua_script(f"/v1/accounts/{lc}/bulk-events", bulks, key, tmp, "bulk"),
        }
        runs: list[dict[str, Any]] = []
        with (
            bare_server(args.workers) as bare,
            bench.server(url, cpus=None, processor=True, workers=args.workers) as oe,
        ):
            for base in (bare, oe):  # warm-up
                bench.run_wrk(base, scripts["single"], 2, cpus=None)
            wait_drained(oe, lc, key)
            for _ in range(reps):
                rep: dict[str, Any] = {}
                rep["bare_single"] = bench.run_wrk(bare, scripts["single"], duration, cpus=None)
                rep["single"] = bench.run_wrk(oe, scripts["single"], duration, cpus=None)
                wait_drained(oe, lc, key)
                rep["bare_bulk"] = bench.run_wrk(bare, scripts["bulk"], duration, cpus=None)
                before = bench.stats(oe, lc, key)["events"]
                t0 = time.monotonic()
                rep["bulk"] = bench.run_wrk(oe, scripts["bulk"], duration, cpus=None)
                drained = wait_drained(oe, lc, key)
                records = bench.stats(oe, lc, key)["events"] - before
                rep["e2e"] = {"records": records, "seconds": drained - t0, "records_per_s": records / (drained - t0)}
                rep["insert_rows_per_s"] = insert_baseline(tmp / "inserts.db", args.insert_seconds)
                runs.append(rep)
                print(json.dumps(summary_of(rep)), flush=True)
            e2e = statistics.median(r["e2e"]["records_per_s"] for r in runs)
            raw = read_after_write(oe, lc, key, tmp, bulks, e2e / 2, duration)
    report = {"backend": "postgresql" if args.database_url else "sqlite", "duration": duration, "runs": runs}
    report["read_after_write"] = raw
    RESULTS = HERE / "results"
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"serve-{report['backend']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(render(report))
    print(f"\nraw results: {out}")


def read_after_write(
    base: str, lc: str, key: str, tmp: Path, bulks: list[str], rate: float, duration: float
) -> dict[str, Any]:
    connections = 8
    delay_ms = max(0.0, connections * 1000 / (rate / BULK) - 2)
    script = bench.lua_script(f"/v1/accounts/{lc}/bulk-events", bulks, key, tmp, "paced", delay_ms)
    latencies: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(target=probe, args=(base, lc, key, stop, latencies, str(int(time.time()))))
    thread.start()
    try:
        load = bench.run_wrk(base, script, duration, connections=connections, cpus=None)
    finally:
        stop.set()
        thread.join()
    return {
        "target_records_per_s": rate,
        "offered_records_per_s": load["rps"] * BULK,
        "probes": len(latencies),
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
    }


def summary_of(rep: dict[str, Any]) -> dict[str, Any]:
    return {
        "single_rps": round(rep["single"]["rps"]),
        "bare_single_rps": round(rep["bare_single"]["rps"]),
        "single_ratio": round(rep["single"]["rps"] / rep["bare_single"]["rps"], 3),
        "bulk_records_per_s": round(rep["bulk"]["rps"] * BULK),
        "bare_bulk_records_per_s": round(rep["bare_bulk"]["rps"] * BULK),
        "bulk_ratio": round(rep["bulk"]["rps"] / rep["bare_bulk"]["rps"], 3),
        "p99_single_ms": rep["single"]["p99_ms"],
        "p99_bulk_ms": rep["bulk"]["p99_ms"],
        "bare_p99_single_ms": rep["bare_single"]["p99_ms"],
        "bare_p99_bulk_ms": rep["bare_bulk"]["p99_ms"],
        "e2e_records_per_s": round(rep["e2e"]["records_per_s"]),
        "insert_rows_per_s": round(rep["insert_rows_per_s"]),
        "e2e_ratio": round(rep["e2e"]["records_per_s"] / rep["insert_rows_per_s"], 3),
    }


def render(report: dict[str, Any]) -> str:
    rows = [summary_of(r) for r in report["runs"]]

    def med(k: str) -> float:
        return float(statistics.median(r[k] for r in rows))

    def each(k: str) -> str:
        return " ".join(f"{r[k]:,}" if isinstance(r[k], int) else f"{r[k]:g}" for r in rows)

    raw = report["read_after_write"]
    lines = [
        f"# OpenEngage as `serve` runs it ({report['backend']}, processor on, unpinned, wrk -c{CONNECTIONS}, "
        f"{report['duration']:g} s runs, {len(rows)} repeats)",
        "",
        "| figure | median | goal | per repeat |",
        "| --- | ---: | ---: | --- |",
        f"| bare app, single, req/s | {med('bare_single_rps'):,.0f} | | {each('bare_single_rps')} |",
        f"| `/events`, req/s | {med('single_rps'):,.0f} | | {each('single_rps')} |",
        f"| `/events` vs bare (paired) | {med('single_ratio'):.2f}x | >= 0.70x | {each('single_ratio')} |",
        f"| bare app, bulk, events/s | {med('bare_bulk_records_per_s'):,.0f} | | {each('bare_bulk_records_per_s')} |",
        f"| `/bulk-events`, events/s | {med('bulk_records_per_s'):,.0f} | | {each('bulk_records_per_s')} |",
        f"| `/bulk-events` vs bare (paired) | {med('bulk_ratio'):.2f}x | >= 0.50x | {each('bulk_ratio')} |",
        f"| p99 single, ms | {med('p99_single_ms'):.1f} | <= 25 | {each('p99_single_ms')} |",
        f"| p99 bulk, ms | {med('p99_bulk_ms'):.1f} | <= 50 | {each('p99_bulk_ms')} |",
        f"| bare app p99 single / bulk, ms | {med('bare_p99_single_ms'):.1f} / {med('bare_p99_bulk_ms'):.1f} | | |",
        f"| end to end, records/s | {med('e2e_records_per_s'):,.0f} | | {each('e2e_records_per_s')} |",
        f"| plain INSERTs, rows/s | {med('insert_rows_per_s'):,.0f} | | {each('insert_rows_per_s')} |",
        f"| end to end vs INSERTs (paired) | {med('e2e_ratio'):.2f}x | >= 0.30x | {each('e2e_ratio')} |",
        f"| read-after-write p99 at {raw['offered_records_per_s']:,.0f} records/s offered, ms "
        f"({raw['probes']} probes; p50 {raw['p50_ms']:.0f}) | {raw['p99_ms']:.0f} | <= 1000 | |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
