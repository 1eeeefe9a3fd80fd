"""Does a browser on the live tail lower `/events` ingest? Paired runs with and without one.

The server (`openengage serve` with its processor, through bench/bench_server.py) runs pinned to CPU 0;
wrk (32 connections, single `/events` bodies of 10,000 users) and the tail client run on CPU 1, so the
tail's own CPU never competes with the server's. A tail client is either:
- `poller` (default): a process doing exactly what static/tail.js does: open the live events page, then
  ask `events/feed?after=…` every 2 seconds with the session cookie;
- `browser`: Debian's chromium (Playwright) on the live events page, running our JavaScript.
Each repeat runs ingest without and with a tail, in alternating order, and the ratio is taken within
the repeat (paired); the report gives each run and the median ratio (the target: at least 0.95).

Usage: python bench/tail_ingest.py [--database-url postgresql://…] [--duration 10] [--reps 5] [--client browser]
Needs wrk (bench/run.sh installs it). Timings on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
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
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (bench/bench.py: server, wrk, stores)

PASSWORD = "bench pass phrase"
OWNER = "owner@localhost"
POLL_SECONDS = 2.0
READY = "on the page"


def sign_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token, form.text[:300]
    r = client.post("/dashboard/login", data={"email": OWNER, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text[:300]
    return client


def poller(base: str, lc: str, seconds: float) -> None:
    """What static/tail.js does, for `seconds`: the page once, then the feed every POLL_SECONDS."""
    client = sign_in(base)
    page = client.get(f"/dashboard/accounts/{lc}/events")
    after = re.search(r'data-after="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    feed = re.search(r'data-feed="([^"]+)"', page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    print(READY, flush=True)
    polls, shown, slowest = 0, 0, 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(POLL_SECONDS)
        t = time.perf_counter()
        body = json.loads(client.get(feed, params={"after": after}).text)
        slowest = max(slowest, time.perf_counter() - t)
        after = body["after"]
        polls, shown = polls + 1, shown + len(body["events"])
    print(json.dumps({"polls": polls, "events_shown": shown, "slowest_poll_ms": round(slowest * 1000, 1)}))


def browser(base: str, lc: str, seconds: float) -> None:
    """Debian's chromium on the live events page for `seconds` (our JavaScript does the polling)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        page = chromium.new_context().new_page()
        page.goto(f"{base}/dashboard/login")
        page.get_by_label("Email").fill(OWNER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{base}/dashboard/accounts/{lc}/events")
        print(READY, flush=True)
        time.sleep(seconds)
        rows = page.locator("ol.tail li").count()
        chromium.close()
    print(json.dumps({"rows_on_page": rows}))


@contextlib.contextmanager
def tail_client(kind: str, base: str, lc: str, seconds: float) -> Iterator[list[str]]:
    """A tail client process pinned to CPU 1 for `seconds`; yields a list that gets its report line."""
    cmd = ["taskset", "-c", "1", sys.executable, __file__, f"--{kind}-client", base, lc, str(seconds)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report: list[str] = []
    try:
        # Signed in and on the page before the load starts: what is measured is a tab left open on the
        # live tail, not the sign-in (an Argon2id check) or the page's first render.
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)  # a client stuck signing in fails the run
        line = proc.stdout.readline().strip() if ready else "(nothing in 120 s)"
        if line != READY:
            proc.kill()
            raise RuntimeError(f"the tail client did not reach the page: {line}")
        yield report
    finally:
        out, err = proc.communicate(timeout=seconds + 60)
        report.append(out.strip() or err.strip()[-500:])


def run(url: str, duration: float, reps: int, kind: str) -> dict[str, Any]:
    creds = bench.account(url)
    lc = creds["license_code"]
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "openengage", "members", "set-password", lc, OWNER],
                   input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        bodies = [json.dumps(bench.event(i)) for i in range(1000)]
        script = bench.lua_script(f"/v1/accounts/{lc}/events", bodies, creds["api_key"], Path(tmp), "events")
        without: list[dict[str, float]] = []
        with_tail: list[dict[str, float]] = []
        reports: list[str] = []
        with bench.server(url, cpus="0", processor=True) as base:
            bench.run_wrk(base, script, 3)  # warm-up
            for rep in range(reps):
                for tailing in (False, True) if rep % 2 == 0 else (True, False):
                    if tailing:
                        with tail_client(kind, base, lc, duration + 2) as report:
                            with_tail.append(bench.run_wrk(base, script, duration))
                        reports += report
                    else:
                        without.append(bench.run_wrk(base, script, duration))
    ratios = [w["rps"] / wo["rps"] for w, wo in zip(with_tail, without, strict=True)]
    return {
        "client": kind,
        "duration_s": duration,
        "without_rps": [round(r["rps"]) for r in without],
        "with_tail_rps": [round(r["rps"]) for r in with_tail],
        "ratios": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "max_steal": round(max(r["steal"] for r in without + with_tail), 3),
        "tail_reports": reports,
    }


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] in ("--poller-client", "--browser-client"):
        client = poller if sys.argv[1] == "--poller-client" else browser
        client(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (a scratch database is made)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--client", choices=("poller", "browser"), default="poller")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = bench.fresh_store(args.database_url, Path(tmp), "tail")
        result = run(url, args.duration, args.reps, args.client)
    print(json.dumps(result, indent=2))
    backend = "postgres" if args.database_url else "sqlite"
    out = HERE / "results" / f"tail-ingest-{backend}-{args.client}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
