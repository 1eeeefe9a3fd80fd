"""Time every dashboard page over HTTP on a big store (bench/dashboard_fixture.py): p50 and p95 per page.

Starts `openengage serve` on the fixture's store, gives its owner a password, signs in through the form,
then requests every page round-robin (so the machine's drift spreads over all pages alike), after a
warm-up round: each GET page the dashboard registers (DESIGN's table: overview, users, live events,
data, data quality, REST API, Data API, team, audit log, and whatever other pages exist, the debugger
included), plus the pages that take a value: searches by user id, anonymous id, email, phone, company
(an attribute value), a whole number, a prefix; profiles (a plain, a hot and a merged user, an anonymous
visitor); live events filtered by name and by user and the feed; a data-quality group.

Usage:
  python bench/dashboard_pages.py --database-url URL [--build] [--scale 1.0] [--rounds 40]
--build makes the fixture first (a new store); otherwise the fixture JSON of an earlier --build is read
(bench/results/dashboard-fixture-<backend>.json, or --fixture). Results: a table on stdout and
bench/results/dashboard-pages-<backend>.json. Timings on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx2 as httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PASSWORD = "bench pass phrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(url: str, cpus: str | None = None) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url, "OPENENGAGE_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "openengage", "serve", "--port", str(port)]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
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


def set_password(url: str, lc: str, email: str) -> None:
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "openengage", "members", "set-password", lc, email],
                   input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True)  # fmt: skip


def sign_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token, form.text[:300]
    r = client.post("/dashboard/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text[:300]
    return client


def registered_pages() -> list[str]:
    """Every GET page the dashboard registers that takes no value in its path."""
    from openengage.dashboard import views
    from openengage.dashboard.pages import PAGES

    views.load()
    return sorted({p.path for p in PAGES if "GET" in p.methods and "{" not in p.path})


def pages(info: dict[str, Any], client: httpx.Client, base_path: str) -> dict[str, str]:
    """name -> path (relative to the account) of every page to time."""
    s = info["samples"]
    out = {f"/{p}" if p else "/ (overview)": p for p in registered_pages()}
    feed = json.loads(client.get(base_path + "events/feed", params={"after": "0"}).text)
    latest = int(feed["after"])
    out.pop("/events/feed", None)
    out["/events/feed (a poll, nothing new)"] = f"events/feed?after={latest}"
    out["/events/feed?name= (a poll)"] = "events/feed?" + urlencode({"after": latest, "name": s["event_name"]})
    searches = {
        "user id": s["user_id"], "anonymous id": s["anonymous_id"], "email": s["email"], "email prefix":
        s["email_prefix"], "phone": s["phone"], "company (attribute value)": s["company"], "whole number":
        s["loyalty_id"], "id prefix": s["prefix"], "common value (Gold)": s["plan"], "no match": "zz-nothing",
    }  # fmt: skip
    for label, q in searches.items():
        out[f"/users?q= {label}"] = "users?" + urlencode({"q": q})
    gold = client.get(base_path + "users", params={"q": s["plan"]}).text
    nxt = re.search(r'href="([^"]+)" rel="next"', gold)
    if nxt:
        out["/users?q= Gold, page 2"] = nxt.group(1).replace("&amp;", "&").split(base_path, 1)[1]
    for label, uid in (
        ("user", s["user_id"]),
        ("hot user", s["hot_user_id"]),
        ("merged user", s["identified_user_id"]),
    ):
        out[f"/users/{{id}} {label}"] = "users/" + quote(uid, safe="")
    out["/anonymous-users/{id}"] = "anonymous-users/" + quote(s["anonymous_id"], safe="")
    out["/events?name= (rare)"] = "events?" + urlencode({"name": s["rare_event_name"]})
    out["/events?user="] = "events?" + urlencode({"user": s["hot_user_id"]})
    quality = client.get(base_path + "data-quality").text
    group = re.search(r'href="([^"]*data-quality\?reason=[^"]+)"', quality)
    if group:
        out["/data-quality?reason= (a group)"] = group.group(1).replace("&amp;", "&").split(base_path, 1)[1]
    return out


def measure(client: httpx.Client, base_path: str, targets: dict[str, str], rounds: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in targets}
    for name, path in targets.items():  # warm-up, and every page must answer 200
        r = client.get(base_path + path)
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
    for _ in range(rounds):
        for name, path in targets.items():
            t = time.perf_counter()
            r = client.get(base_path + path)
            times[name].append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (name, r.status_code)
    result = {}
    for name, ts in times.items():
        ts.sort()
        result[name] = {
            "p50_ms": round(statistics.median(ts), 1),
            "p95_ms": round(ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))], 1),
            "max_ms": round(ts[-1], 1),
            "bytes": len(client.get(base_path + targets[name]).content),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--build", action="store_true", help="make the fixture first (the store must be new)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--fixture", type=Path, default=None, help="the fixture JSON (default: results/…)")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--cpus", default=None, help="pin the server, e.g. 0 (taskset)")
    args = parser.parse_args()
    import dashboard_fixture

    backend = "sqlite" if args.database_url.startswith("sqlite") else "postgres"
    fixture = args.fixture or dashboard_fixture.default_out(args.database_url)
    if args.build:
        info = asyncio.run(dashboard_fixture.build(args.database_url, args.scale))
        fixture.parent.mkdir(parents=True, exist_ok=True)
        fixture.write_text(json.dumps(info, indent=2))
    info = json.loads(fixture.read_text())
    set_password(args.database_url, info["license_code"], info["owner"])
    with serving(args.database_url, args.cpus) as base:
        client = sign_in(base, info["owner"])
        base_path = f"/dashboard/accounts/{info['license_code']}/"
        targets = pages(info, client, base_path)
        result = measure(client, base_path, targets, args.rounds)
    width = max(len(n) for n in result)
    print(f"{backend}: {info['stats']}, {args.rounds} requests per page")
    print(f"{'page':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  {'bytes':>8}")
    for name, r in result.items():
        print(f"{name:<{width}}  {r['p50_ms']:>8}  {r['p95_ms']:>8}  {r['max_ms']:>8}  {r['bytes']:>8}")
    out = HERE / "results" / f"dashboard-pages-{backend}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"fixture": info, "rounds": args.rounds, "pages": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
