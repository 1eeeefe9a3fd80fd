"""Transactional messaging benchmark: transactions accepted per second over HTTP, then delivered per
second by the sender to a local SMTP sink.

1. Accepted: `openengage serve --no-sender` (API and processor), `wrk` posting the WebEngage example
   body to `/v2/accounts/{lc}/experiments/{id}/transaction` (no txnId: each request is a new
   transaction) for `--duration` seconds; every 200 is a transaction committed (fsynced) to the outbox.
2. Delivered: the server restarted with its sender; the time from its start until the SMTP sink
   (aiosmtpd on 127.0.0.1, keeping a count only) has received every accepted message.

Usage: python bench/bench_transactions.py [--database-url URL] [--duration 10] [--connections 16]
Performance is reported, never asserted (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingSink:
    """An SMTP server that counts messages (and keeps nothing)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.lock = threading.Lock()
        self.port = free_port()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            now = time.monotonic()
            self.first = self.first or now
            self.last = now
            self.count += 1
        return "250 OK"


def cli(url: str, *args: str) -> str:
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "openengage", *args], env=env, capture_output=True, text=True, check=True
    ).stdout


@contextlib.contextmanager
def serve(url: str, *extra: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": url, "OPENENGAGE_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "openengage", "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def wrk(base: str, path: str, key: str, body: str, duration: int, connections: int, tmp: Path) -> dict[str, Any]:
    script = tmp / "txn.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("STATUS non2xx=%d\\n", summary.errors.status))\n'
        "end\n"
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), base + path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = int(re.search(r"non2xx=(\d+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {"rps": rps, "requests": total, "non2xx": non2xx, "p50": "".join(p50.groups()) if p50 else "",
            "p99": "".join(p99.groups()) if p99 else ""}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oe-bench-txn-") as scratch:
        tmp = Path(scratch)
        url = args.database_url or f"sqlite:///{tmp / 'oe.db'}"
        sink = CountingSink()
        controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
        controller.start()
        try:
            cli(url, "migrate")
            creds = json.loads(cli(url, "accounts", "create", "bench", "--json", "--rate-limit", "transactions=0"))
            lc, key = creds["license_code"], creds["api_key"]
            cli(
                url, "channels", "set", lc, "email", "--smtp-url", f"smtp://127.0.0.1:{sink.port}", "--from", "b@x.test"
            )
            body_file = tmp / "body.txt"
            body_file.write_text("Hello {{ user.firstName }}, your order {{ token.orderId }} is confirmed.\n")
            code = cli(url, "campaigns", "create", lc, "--name", "bench", "--channel", "email", "--subject",
                       "Order {{ token.orderId }}", "--body-file", str(body_file)).strip()  # fmt: skip
            cli(url, "campaigns", "start", lc, code)
            headers = {"Authorization": f"Bearer {key}"}
            with serve(url, "--no-sender") as base:
                user = {"userId": "peter", "firstName": "Peter", "email": "peter@example.com"}
                httpx.post(f"{base}/v1/accounts/{lc}/users", json=user, headers=headers).raise_for_status()
                time.sleep(1)
                body = json.dumps({"userId": "peter", "overrideData": {"context": {"token": {"orderId": "ABCD1234"}}}})
                path = f"/v2/accounts/{lc}/experiments/{code}/transaction"
                accepted = wrk(base, path, key, body, args.duration, args.connections, tmp)
                stats = f"{base}/v1/accounts/{lc}/stats"
                while httpx.get(stats, headers=headers).json()["response"]["data"]["pending"]:
                    time.sleep(0.2)
                # wrk counts the answers it read; the server's own count includes requests cut off at the end
                found = re.search(r"^openengage_transactions_total ([\d.]+)", httpx.get(f"{base}/metrics").text, re.M)
                queued = int(float(found.group(1))) if found else accepted["requests"] - accepted["non2xx"]
            started = time.monotonic()
            with serve(url):
                deadline = time.monotonic() + 600
                while sink.count < queued and time.monotonic() < deadline:
                    time.sleep(0.1)
            took = (sink.last or started) - started
            report = {
                "store": "postgresql" if url.startswith("postgres") else "sqlite",
                "accepted_per_second": round(accepted["rps"], 1),
                "accepted": queued,
                "refused": accepted["non2xx"],
                "p50": accepted["p50"],
                "p99": accepted["p99"],
                "delivered": sink.count,
                "delivered_per_second": round(sink.count / took, 1) if took > 0 else None,
                "delivery_seconds_incl_start": round(took, 1),
            }
            print(json.dumps(report, indent=2))
        finally:
            controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
