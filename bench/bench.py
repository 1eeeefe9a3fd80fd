"""OpenEngage benchmark: ingest over real HTTP, processor throughput, sustained end-to-end rate.

Every figure is reported next to a baseline measured in the same run (the machine is noisy):
- HTTP ingest: `wrk` against `/events` (single) and `/bulk-events` (25 per call), each next to the
  same server's no-op route (`POST /_bench/noop`, mounted by bench/bench_server.py, not the product:
  same stack, reads the body, stores nothing) with the same body; server pinned to CPU 0, wrk to
  CPU 1, 32 connections; the processor is off so the run measures ingest alone. Repeats are
  interleaved and medians reported.
- Processor: 100,000 events across 10,000 users appended to the log, then applied (log -> store);
  baseline: plain batched INSERTs of as many rows into the same kind of store.
- Sustained end-to-end: API and processor together on both cores at a fixed offered rate; the
  highest rate at which the backlog does not grow.

MoEngage: the same runs for Track Event (`/v1/event`) and Bulk Import (`/v1/transition`, 25 event
elements), next to the same no-op baselines.

Usage: python bench/bench.py [--database-url URL] [--nodes 1|2] [--duration 10] [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CONNECTIONS = 32


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(url: str, *args: str) -> str:
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "openengage", *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


@contextlib.contextmanager
def server(url: str, *, cpus: str | None, processor: bool, workers: int = 1) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url, "OPENENGAGE_LOG_LEVEL": "warning"}
    # bench_server.py: `openengage serve` plus the no-op baseline route, which the product does not carry
    cmd = [sys.executable, str(HERE / "bench_server.py"), "--port", str(port), "--workers", str(workers)]
    cmd.append("--processor" if processor else "--no-processor")
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def lua_script(
    path: str,
    bodies: list[str],
    key: str,
    tmp: Path,
    name: str,
    delay_ms: float = 0,
    headers: dict[str, str] | None = None,
) -> Path:
    """A wrk script cycling through prebuilt bodies (so requests spread over many users).

    `headers` replaces the default WebEngage `Authorization: Bearer <key>` (MoEngage: Basic auth, MOE-APPKEY).
    """
    quoted = ",\n".join("[==[" + b + "]==]" for b in bodies)
    delay = f"function delay() return {delay_ms} end\n" if delay_ms else ""
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {"Authorization": f"Bearer {key}"}).items())
    script = f"""
local bodies = {{
{quoted}
}}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{lines}
function request()
  i = i + 1
  return wrk.format(nil, "{path}", nil, bodies[(i % #bodies) + 1])
end
{delay}"""
    out = tmp / f"{name}.lua"
    out.write_text(script)
    return out


def cpu_times() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of CPU time the hypervisor gave to other guests during a run (field 8 of /proc/stat)."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    return delta[7] / max(1, sum(delta))


def run_wrk(
    base: str, script: Path, duration: float, connections: int = CONNECTIONS, cpus: str | None = "1"
) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{round(duration)}s", "--latency", "-s", str(script), base]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    before = cpu_times()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    steal = steal_share(before, cpu_times())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": latency(out, "50%"),
        "p99_ms": latency(out, "99%"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
        "steal": steal,
    }


def latency(out: str, pct: str) -> float:
    m = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if m is None:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def event(i: int) -> dict[str, Any]:
    return {
        "userId": f"user-{i % 10_000}",
        "eventName": "Added to Cart",
        "eventTime": "2018-09-15T18:29:00-0800",
        "eventData": {
            "Product ID": i,
            "Price": 39.8,
            "Quantity": 1,
            "Product": "Givenchy Pour Homme Cologne",
            "Category": "Fragrance",
            "Currency": "USD",
        },
    }


def moe_event(i: int) -> dict[str, Any]:
    """The same event in the MoEngage dialect: one Track Event element with one action."""
    return {
        "type": "event",
        "customer_id": f"user-{i % 10_000}",
        "actions": [
            {"action": "Added to Cart", "attributes": event(i)["eventData"], "current_time": "2018-09-15T18:29:00-0800"}
        ],
    }


def moe_headers(creds: dict[str, str]) -> dict[str, str]:
    basic = base64.b64encode(f"{creds['app_id']}:{creds['data_api_key']}".encode()).decode()
    return {"Authorization": f"Basic {basic}", "MOE-APPKEY": creds["app_id"]}


def stats(base: str, lc: str, key: str) -> dict[str, int]:
    r = httpx.get(f"{base}/v1/accounts/{lc}/stats", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    data: dict[str, int] = r.json()["response"]["data"]
    return data


def fresh_store(url: str | None, tmp: Path, name: str) -> str:
    if url is None:
        return f"sqlite:///{tmp / name}.db"
    # PostgreSQL: a scratch database per scenario on the given server
    import psycopg

    db = f"oe_bench_{name}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')
    return url.rsplit("/", 1)[0] + "/" + db


def account(url: str) -> dict[str, str]:
    cli(url, "migrate")
    limits = ["users=0", "events=0", "bulk=0", "moengage-users=0", "moengage-events=0"]
    args = [a for lim in limits for a in ("--rate-limit", lim)]
    created: dict[str, str] = json.loads(cli(url, "accounts", "create", "bench", *args, "--json"))
    return created


# ---------------------------------------------------------------- scenarios


def http_ingest(url: str, tmp: Path, duration: float, reps: int) -> dict[str, Any]:
    creds = account(url)
    lc, key = creds["license_code"], creds["api_key"]
    singles = [json.dumps(event(i)) for i in range(1000)]
    bulks = [json.dumps({"events": [event(i * 25 + j) for j in range(25)]}) for i in range(200)]
    app, moe = creds["app_id"], moe_headers(creds)
    moe_singles = [json.dumps(moe_event(i)) for i in range(1000)]
    moe_bulks = [
        json.dumps({"type": "transition", "elements": [moe_event(i * 25 + j) for j in range(25)]}) for i in range(200)
    ]
    # Each baseline runs right before the routes compared with it, in every repeat: the machine's speed
    # drifts over minutes, so ratios are taken within a repeat (paired) and the median reported.
    scripts = {
        "noop_single": (lua_script("/_bench/noop", singles, key, tmp, "noop_single"), 1),
        "events": (lua_script(f"/v1/accounts/{lc}/events", singles, key, tmp, "events"), 1),
        # MoEngage: Track Event with one action, Bulk Import with 25 event elements; same events, same no-op
        "moe_event": (lua_script(f"/v1/event/{app}", moe_singles, key, tmp, "moe_event", headers=moe), 1),
        "noop_bulk": (lua_script("/_bench/noop", bulks, key, tmp, "noop_bulk"), 25),
        "bulk_events": (lua_script(f"/v1/accounts/{lc}/bulk-events", bulks, key, tmp, "bulk_events"), 25),
        "moe_bulk": (lua_script(f"/v1/transition/{app}", moe_bulks, key, tmp, "moe_bulk", headers=moe), 25),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in scripts}
    with server(url, cpus="0", processor=False) as base:
        for script, _ in scripts.values():  # warm-up
            run_wrk(base, script, 2)
        for _ in range(reps):
            for name, (script, _) in scripts.items():
                runs[name].append(run_wrk(base, script, duration))
    result: dict[str, Any] = {}
    for name, (_, per_request) in scripts.items():
        med = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        med["records_per_s"] = med["rps"] * per_request
        med["runs"] = [round(r["rps"]) for r in runs[name]]  # type: ignore[assignment]
        med["steal"] = max(r["steal"] for r in runs[name])
        result[name] = med

    def paired(name: str, baseline: str) -> float:
        return statistics.median(r["rps"] / b["rps"] for r, b in zip(runs[name], runs[baseline], strict=True))

    result["single_ratio"] = paired("events", "noop_single")
    result["bulk_ratio"] = paired("bulk_events", "noop_bulk")
    result["moe_single_ratio"] = paired("moe_event", "noop_single")
    result["moe_bulk_ratio"] = paired("moe_bulk", "noop_bulk")
    return result


def processor_run(url: str, events: int = 100_000, users: int = 10_000) -> dict[str, Any]:
    """Append `events` events across `users` users to the log (not timed), then time applying them."""
    from openengage.processor.worker import drain
    from openengage.records import EventRecord, encode_records
    from openengage.settings import Settings
    from openengage.store import open_store
    from openengage.store.base import Submission

    creds = account(url)
    acc = int(creds["account_id"])

    async def run() -> dict[str, Any]:
        store = open_store(Settings.from_env({}, database_url=url))
        await store.open()
        try:
            batch: list[Submission] = []
            for i in range(0, events, 25):
                records = [
                    EventRecord(
                        "Added to Cart",
                        user_id=f"user-{(i + j) % users}",
                        time_ms=1_537_064_940_000 + i + j,
                        data=event(i + j)["eventData"],
                    )
                    for j in range(25)
                ]
                batch.append(Submission(acc, "bulk", 1, 0, encode_records(list(records)), 25))
                if len(batch) == 80:
                    await store.append(batch)
                    batch = []
            if batch:
                await store.append(batch)
            t0 = time.perf_counter()
            applied = await drain(store)
            elapsed = time.perf_counter() - t0
            return {"events": applied, "seconds": elapsed, "events_per_s": applied / elapsed}
        finally:
            await store.close()

    return asyncio.run(run())


def insert_baseline(tmp: Path, rows: int = 100_000) -> dict[str, Any]:
    """Plain batched INSERTs of event-sized rows into a SQLite WAL file (synchronous=FULL): the ceiling."""
    path = tmp / "baseline.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, profile_id INTEGER, name TEXT, time_ms INTEGER, data BLOB)"
    )
    conn.execute("CREATE INDEX events_profile ON events(profile_id, time_ms, id)")
    payload = json.dumps(event(1)["eventData"]).encode()
    t0 = time.perf_counter()
    for start in range(0, rows, 2000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (profile_id, name, time_ms, data) VALUES (?, ?, ?, ?)",
            [((i % 10_000) + 1, "Added to Cart", i, payload) for i in range(start, start + 2000)],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return {"rows_per_s": rows / elapsed}


def sustained(url: str, tmp: Path, start_rate: float, step_seconds: float = 15) -> dict[str, Any]:
    """Highest offered rate (records/s, bulk of 25) at which the backlog stays flat, both cores shared."""
    creds = account(url)
    lc, key = creds["license_code"], creds["api_key"]
    bulks = [json.dumps({"events": [event(i * 25 + j) for j in range(25)]}) for i in range(200)]
    connections = 8
    rate = start_rate
    tried: list[dict[str, Any]] = []
    flat_rates: list[float] = []  # offered rates that kept the backlog flat
    growing_rates: list[float] = []
    best: dict[str, Any] = {}
    with server(url, cpus=None, processor=True) as base:
        for _ in range(6):
            requests_per_s = rate / 25
            delay_ms = max(0.0, connections * 1000 / requests_per_s - 2)
            script = lua_script(f"/v1/accounts/{lc}/bulk-events", bulks, key, tmp, "sustained", delay_ms)
            before = stats(base, lc, key)
            t0 = time.monotonic()
            out = run_wrk(base, script, step_seconds, connections=connections, cpus=None)
            elapsed = time.monotonic() - t0
            after = stats(base, lc, key)
            offered = out["rps"] * 25
            processed = (after["events"] - before["events"]) / elapsed
            growth = after["pending"] - before["pending"]
            step = {
                "offered_records_per_s": round(offered),
                "processed_per_s": round(processed),
                "backlog_growth": growth,
                "p99_ms": out["p99_ms"],
            }
            tried.append(step)
            if growth <= 0.05 * offered * elapsed:  # flat: try higher, unless a higher rate already grew
                flat_rates.append(rate)
                if not best or processed > best["processed_per_s"]:
                    best = step
                rate = rate * 1.25 if not growing_rates else (rate + min(growing_rates)) / 2
            else:
                growing_rates.append(rate)
                rate = rate * 0.8 if not flat_rates else (rate + max(flat_rates)) / 2
                deadline = time.monotonic() + 120  # let the backlog drain before the next step
                while stats(base, lc, key)["pending"] > 0 and time.monotonic() < deadline:
                    time.sleep(0.5)
            if flat_rates and growing_rates and min(growing_rates) / max(flat_rates) < 1.1:
                break  # bracketed within 10%
    return {"sustained_records_per_s": best.get("processed_per_s"), "steps": tried}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url", default=None, help="postgresql://... to benchmark PostgreSQL (default: SQLite)"
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="short runs, to check the script")
    parser.add_argument("--only", default="http,processor,sustained")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    duration, reps = (3.0, 1) if args.quick else (args.duration, args.reps)
    only = set(args.only.split(","))
    report: dict[str, Any] = {"backend": "postgresql" if args.database_url else "sqlite", "connections": CONNECTIONS}
    with tempfile.TemporaryDirectory(prefix="oe-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if "http" in only:
            report["http"] = http_ingest(fresh_store(args.database_url, tmp, "http"), tmp, duration, reps)
        if "processor" in only:
            n = 20_000 if args.quick else 100_000
            report["processor"] = processor_run(fresh_store(args.database_url, tmp, "proc"), events=n)
            report["processor"]["baseline_insert_rows_per_s"] = insert_baseline(tmp, n)["rows_per_s"]
            report["processor"]["ratio"] = (
                report["processor"]["events_per_s"] / report["processor"]["baseline_insert_rows_per_s"]
            )
        if "sustained" in only:
            start = report.get("processor", {}).get("events_per_s", 20_000) * 0.9
            report["sustained"] = sustained(
                fresh_store(args.database_url, tmp, "e2e"), tmp, start, 5 if args.quick else 15
            )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{report['backend']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(render(report))
    print(f"\nraw results: {out}")


def render(r: dict[str, Any]) -> str:
    lines = [f"# OpenEngage benchmark ({r['backend']}, {r['connections']} connections)", ""]
    if "http" in r:
        h = r["http"]
        lines += [
            "| run | req/s | records/s | p50 ms | p99 ms | non-2xx | runs | max steal |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        ]
        for name in ("noop_single", "events", "moe_event", "noop_bulk", "bulk_events", "moe_bulk"):
            m = h[name]
            cells = [f"{m['rps']:.0f}", f"{m['records_per_s']:.0f}", f"{m['p50_ms']:.2f}", f"{m['p99_ms']:.2f}"]
            lines.append(f"| {name} | {' | '.join(cells)} | {m['non2xx']:.0f} | {m['runs']} | {m['steal']:.0%} |")
        lines += [
            "",
            "ratios: median over repeats of (route req/s) / (no-op req/s measured just before it)",
            f"single /events vs no-op: {h['single_ratio']:.2f}x; /bulk-events vs no-op: {h['bulk_ratio']:.2f}x",
            f"MoEngage /v1/event vs no-op: {h['moe_single_ratio']:.2f}x; "
            f"/v1/transition vs no-op: {h['moe_bulk_ratio']:.2f}x",
            "",
        ]
    if "processor" in r:
        p = r["processor"]
        lines.append(
            f"processor: {p['events']} events in {p['seconds']:.2f}s = {p['events_per_s']:.0f} events/s "
            f"(baseline plain INSERT {p['baseline_insert_rows_per_s']:.0f} rows/s; ratio {p['ratio']:.2f})"
        )
    if "sustained" in r:
        s = r["sustained"]
        lines.append(f"sustained end-to-end: {s['sustained_records_per_s']} records/s; steps: {s['steps']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
