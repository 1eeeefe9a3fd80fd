"""Store outages against real `openengage serve` processes (DESIGN §4 Operations): while the store cannot
commit, every route answers 503 with Retry-After in its dialect's shape, fast, and /healthz says 503;
once the store is back the server recovers by itself; nothing acknowledged is lost.

- PostgreSQL: a TCP proxy between the server and the database, cut (connections reset, new ones
  refused) or stalled (a partition: bytes stop, nothing is refused).
- SQLite: the store on a small filesystem of its own (tmpfs, mounted by the test: root only; CI runs
  as root, so under CI=true the tests must run), filled up.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support import backends
from tests.support.proxy import proxy_for
from tests.support.server import Server, cli, wait_processed

pytestmark = pytest.mark.slow
SEQ = itertools.count()


class Client:
    """Both dialects and the read API of one account on one server."""

    def __init__(self, server: Server, creds: dict[str, Any]) -> None:
        self.http = httpx.Client(base_url=server.base, timeout=60)
        self.lc, self.key = creds["license_code"], creds["api_key"]
        self.bearer = {"Authorization": f"Bearer {self.key}"}
        basic = base64.b64encode(f"{creds['app_id']}:{creds['data_api_key']}".encode()).decode()
        self.app_id, self.basic = creds["app_id"], {"Authorization": f"Basic {basic}"}
        self.acked: list[int] = []

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def event(self, request_id: str | None = None, seq: int | None = None) -> httpx.Response:
        seq = next(SEQ) if seq is None else seq
        headers = {**self.bearer, **({"x-request-id": request_id} if request_id else {})}
        body = {"userId": f"u{seq % 5}", "eventName": "Outage test", "eventData": {"seq": seq}}
        r = self.http.post(f"/v1/accounts/{self.lc}/events", json=body, headers=headers)
        if r.status_code == 201:
            self.acked.append(seq)
        return r

    def moengage_event(self) -> httpx.Response:
        body = {"type": "event", "customer_id": "moe-1", "actions": [{"action": "Outage test", "attributes": {}}]}
        return self.http.post(f"/v1/event/{self.app_id}", json=body, headers=self.basic)

    def read(self) -> httpx.Response:
        return self.http.get(f"/v1/accounts/{self.lc}/stats", headers=self.bearer)

    def health(self) -> int:
        return self.http.get("/healthz").status_code

    def stored(self) -> list[int]:
        seqs: list[int] = []
        for u in range(5):
            params: dict[str, Any] = {"limit": 1000}
            while True:
                r = self.http.get(f"/v1/accounts/{self.lc}/users/u{u}/events", params=params, headers=self.bearer)
                if r.status_code != 200:
                    break
                data = r.json()["response"]["data"]
                seqs += [e["eventData"]["seq"] for e in data["events"]]
                if not data["next"]:
                    break
                params["cursor"] = data["next"]
        return seqs


def timed(fn: Any, *args: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = fn(*args)
    return r, time.monotonic() - started


def until(condition: Any, timeout: float = 60.0) -> float:
    """Poll `condition` until true; the seconds it took (fails after `timeout`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.1)
    return time.monotonic() - started


def assert_webengage_503(r: httpx.Response, *fragments: str) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) > 0
    body = r.json()["response"]
    assert body["status"] == "error"
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


def assert_moengage_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) > 0
    body = r.json()
    assert body["status"] == "fail" and body["error"]["type"] == "Service Unavailable", body
    assert "nothing was stored" in body["error"]["message"] and body["error"]["request_id"]


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backends.require("postgres")
    with backends.fresh_database("postgres", tmp_path) as url:
        yield url


OUTAGE_ENV = {"OPENENGAGE_STORE_WAIT": "1", "OPENENGAGE_STORE_TIMEOUT": "3", "OPENENGAGE_RETRY_AFTER": "2"}


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_postgres_cut_answers_503_fast_then_recovers_without_losing_anything(pg_url: str) -> None:
    creds = json.loads(cli("accounts", "create", "acme", "--json", database_url=pg_url).stdout)
    with (
        proxy_for(pg_url) as proxy,
        Server(proxy.url(pg_url), env=OUTAGE_ENV) as server,
        Client(server, creds) as client,
    ):
        for _ in range(20):
            assert client.event().status_code == 201
        proxy.cut()
        cut_at = time.monotonic()
        latencies = []
        while time.monotonic() - cut_at < 8:  # the 8-second cut of the issue
            r, took = timed(client.event)
            assert_webengage_503(r, "nothing was queued")
            latencies.append(took)
            r, took = timed(client.moengage_event)
            assert_moengage_503(r)
            latencies.append(took)
            r, took = timed(client.read)
            assert_webengage_503(r, "unavailable")
            latencies.append(took)
            assert client.health() == 503
        print(f"\n503 latency during the cut: max {max(latencies):.2f} s over {len(latencies)} requests")
        # bounded by the store's waits (store_wait 1 s, store_timeout 3 s), not the pool's 30 s default
        assert max(latencies) < 10
        proxy.restore()
        recovered = until(lambda: client.health() == 200 and client.event().status_code == 201)
        print(f"recovered {recovered:.2f} s after the database came back")
        for _ in range(20):
            assert client.event().status_code == 201
        wait_processed(client.http, client.lc, client.key)
        stored = client.stored()
    assert sorted(stored) == sorted(set(stored)) and set(client.acked) == set(stored)


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_postgres_partition_answers_503_and_an_unknown_commit_is_said_to_be_unknown(pg_url: str) -> None:
    """Bytes stop mid-commit: the answer cannot say "nothing was queued"; a retry with the same
    x-request-id is safe: the record is stored once whether the first commit landed or not."""
    creds = json.loads(cli("accounts", "create", "acme", "--json", database_url=pg_url).stdout)
    env = {**OUTAGE_ENV, "OPENENGAGE_PROCESSOR": "false"}
    with proxy_for(pg_url) as proxy, Server(proxy.url(pg_url), env=env) as server, Client(server, creds) as client:
        for _ in range(5):
            assert client.event().status_code == 201
        proxy.stall()
        seq = next(SEQ)
        r, took = timed(client.event, "retry-me", seq)
        assert_webengage_503(r, "may or may not be queued", "same x-request-id is safe")
        print(f"\n503 latency of a commit caught by the partition: {took:.2f} s")
        assert until(lambda: client.health() == 503, timeout=30) < 30
        proxy.restore()
        until(lambda: client.health() == 200)
        until(lambda: client.event("retry-me", seq).status_code == 201)  # accepted once, whichever attempt
        assert client.event("retry-me", seq).status_code == 201  # a repeat is answered, not stored again
    with Server(pg_url) as server, Client(server, creds) as client2:
        wait_processed(client2.http, client2.lc, client2.key)
        stored = client2.stored()
    assert stored.count(seq) == 1
    assert set(client.acked) == set(stored)


# ---------------------------------------------------------------- SQLite, disk full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs of its own; root only (CI runs as root, so there it must run)."""
    if os.geteuid() != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: the disk-full tests must run, as root (they mount a tmpfs)")
        pytest.skip("mounting a small filesystem needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the filesystem."""
    filler = path / "filler"
    with filler.open("ab") as f:
        while (free := free_bytes(path)) > leave:
            f.write(b"\0" * min(free - leave, 1 << 20))
            f.flush()
    return filler


def bulk(client: Client, size: int = 25) -> httpx.Response:
    seqs = [next(SEQ) for _ in range(size)]
    pad = "x" * 900
    events = [{"userId": f"u{s % 5}", "eventName": "Outage test", "eventData": {"seq": s, "pad": pad}} for s in seqs]
    r = client.http.post(f"/v1/accounts/{client.lc}/bulk-events", json={"events": events}, headers=client.bearer)
    if r.status_code == 201:
        client.acked += seqs
    return r


@pytest.mark.timeout(180)
def test_sqlite_keeps_room_for_the_backlog_and_answers_503_below_the_floor(small_disk: Path) -> None:
    url = f"sqlite:///{small_disk / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", "--rate-limit", "bulk=0", database_url=url).stdout)
    env = {"OPENENGAGE_MIN_FREE_MB": "6", "OPENENGAGE_RETRY_AFTER": "2"}
    with Server(url, env=env) as server, Client(server, creds) as client:
        filler = fill(small_disk, leave=9 << 20)
        answers = []
        for _ in range(1000):
            answers.append(bulk(client).status_code)
            if answers[-1] != 201:
                break
        assert answers[-1] == 503 and set(answers) == {201, 503}, answers
        r = bulk(client)
        assert_webengage_503(r, "nothing was queued")
        assert_moengage_503(client.moengage_event())
        assert client.health() == 503
        # The floor left the processor room: the whole backlog is applied while ingest is refused.
        stats = wait_processed(client.http, client.lc, client.key)
        assert stats["pending"] == 0
        assert set(client.stored()) == set(client.acked)
        assert free_bytes(small_disk) > 1 << 20
        filler.unlink()
        until(lambda: client.health() == 200)
        assert bulk(client).status_code == 201
        wait_processed(client.http, client.lc, client.key)
        stored = client.stored()
    assert sorted(stored) == sorted(set(stored)) and set(stored) == set(client.acked)


@pytest.mark.timeout(180)
def test_sqlite_disk_full_answers_503_and_logs_the_real_error(small_disk: Path) -> None:
    """With no floor the disk really fills up: the failed commit answers 503, its real error is logged
    (not ROLLBACK's), and once space is back everything acknowledged is applied."""
    url = f"sqlite:///{small_disk / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", "--rate-limit", "bulk=0", database_url=url).stdout)
    env = {"OPENENGAGE_MIN_FREE_MB": "0", "OPENENGAGE_PROCESSOR": "false", "OPENENGAGE_LOG_LEVEL": "info"}
    with Server(url, env=env) as server, Client(server, creds) as client:
        filler = fill(small_disk, leave=2 << 20)
        answers = []
        for _ in range(1000):
            answers.append(bulk(client).status_code)
            if answers[-1] != 201:
                break
        assert answers[-1] == 503 and set(answers) == {201, 503}, answers
        assert_webengage_503(bulk(client), "nothing was queued")
        time.sleep(0.5)  # the log lines are on their way through a pipe
        output = server.output()
        assert "database or disk is full" in output, output
        assert "cannot rollback" not in output.split("database or disk is full")[0]
        filler.unlink()
        until(lambda: bulk(client).status_code == 201)
    with Server(url, env={"OPENENGAGE_MIN_FREE_MB": "0"}) as server, Client(server, creds) as client2:
        wait_processed(client2.http, client2.lc, client2.key)
        stored = client2.stored()
    assert sorted(stored) == sorted(set(stored)) and set(stored) == set(client.acked)
