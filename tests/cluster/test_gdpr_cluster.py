"""GDPR over a cluster (#10): real `openengage serve` nodes over one PostgreSQL database, both running the
processor (and so the erasure loop). Every due erasure runs once, on one node; a restriction registered
through one node stops the other node's processor from applying that user's new data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.cluster.test_cluster import Node, create_account
from tests.support import backends
from tests.support.server import Server, wait_processed

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backends.require("postgres")
    with backends.fresh_database("postgres", tmp_path) as url:
        yield url


def gdpr(node: Node, request_id: str, kind: str, user_id: str) -> int:
    body = {
        "subject_request_id": request_id,
        "subject_request_type": kind,
        "subject_identities": [{"identity_type": "cuid", "identity_value": user_id}],
    }
    r = node.client.post(f"/v1/accounts/{node.lc}/opengdpr_requests", json=body, headers=node.headers)
    return r.status_code


def status(node: Node, request_id: str) -> str:
    r = node.client.get(f"/v1/accounts/{node.lc}/opengdpr_requests/{request_id}", headers=node.headers)
    assert r.status_code == 200, r.text
    value: str = r.json()["status"]
    return value


@pytest.mark.timeout(180)
def test_two_nodes_erase_every_due_request_exactly_once(pg_url: str) -> None:
    creds = create_account(pg_url, "users=0", "events=0", "gdpr=0")
    args = ("--gdpr-pending-days", "0")
    with Server(pg_url, args=args) as a, Server(pg_url, args=args) as b:
        nodes = [Node(a, creds), Node(b, creds)]
        try:
            users = [f"person-{i}" for i in range(20)]
            for i, u in enumerate(users):
                assert nodes[i % 2].post("/users", {"userId": u, "firstName": "P"}).status_code == 201
                assert nodes[(i + 1) % 2].post("/events", {"userId": u, "eventName": "Seen"}).status_code == 201
            assert nodes[0].post("/users", {"userId": "quiet", "firstName": "Q"}).status_code == 201
            wait_processed(nodes[0].client, creds["license_code"], creds["api_key"])
            assert gdpr(nodes[1], "hush", "restriction", "quiet") == 201
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(lambda i: gdpr(nodes[i % 2], f"erase-{i}", "erasure", users[i]), range(20)))
            assert codes == [201] * 20
            # The restriction holds on every node's processor, at once.
            for node in nodes:
                assert node.post("/users", {"userId": "quiet", "firstName": "Changed"}).status_code == 201
            deadline = time.monotonic() + 90  # the 10 s margin, then the erasure loops (every 2 s)
            while not all(status(nodes[i % 2], f"erase-{i}") == "DONE" for i in range(20)):
                assert time.monotonic() < deadline, [status(nodes[0], f"erase-{i}") for i in range(20)]
                time.sleep(0.5)
            stats = wait_processed(nodes[1].client, creds["license_code"], creds["api_key"])
            assert (stats["users"], stats["events"]) == (1, 0)
            assert nodes[1].get("/users/quiet")["firstName"] == "Q"
            reasons = [r["reason"] for r in nodes[0].get("/rejections")["rejections"]]
            assert reasons == ["restricted", "restricted"]
        finally:
            for node in nodes:
                node.close()
    with psycopg.connect(pg_url) as conn:
        erased = [str(r[0]) for r in conn.execute("SELECT target FROM audit_log WHERE action = 'gdpr.erase'")]
        left = conn.execute("SELECT count(*) FROM profiles WHERE user_id LIKE 'person-%'").fetchone()
        holders = conn.execute("SELECT count(*) FROM gdpr_requests WHERE user_id LIKE 'person-%'").fetchone()
    assert sorted(erased) == sorted(f"erase-{i}" for i in range(20)), "an erasure ran twice or never"
    assert left == (0,) and holders == (0,)
