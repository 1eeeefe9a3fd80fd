"""The dashboard's data pages in cluster mode: two `openengage serve` nodes over one PostgreSQL database.
Data accepted on node A shows on node B's pages (search, profile, live events feed, catalogue, data
quality), for a session started on node A."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support import backends
from tests.support.server import Server, cli, wait_processed

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
PASSWORD = "cluster pass phrase"


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backends.require("postgres")
    with backends.fresh_database("postgres", tmp_path) as url:
        yield url


def sign_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token, form.text[:300]
    r = client.post("/dashboard/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text[:300]
    return client


def test_a_page_on_node_b_shows_data_accepted_on_node_a(pg_url: str) -> None:
    creds: dict[str, Any] = json.loads(cli("accounts", "create", "acme", "--json", database_url=pg_url).stdout)
    lc, key, owner = creds["license_code"], creds["api_key"], "owner@localhost"
    subprocess.run(
        [sys.executable, "-m", "openengage", "members", "set-password", lc, owner, "--database-url", pg_url],
        input=PASSWORD + "\n", text=True, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with Server(pg_url) as a, Server(pg_url) as b:
        api = httpx.Client(base_url=a.base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        session = sign_in(a.base, owner)  # signed in on A ...
        board = httpx.Client(base_url=b.base, cookies=session.cookies, timeout=30)  # ... the cookie used on B
        base = f"/dashboard/accounts/{lc}/"
        try:
            feed = board.get(base + "events/feed", params={"after": "0"})
            assert feed.status_code == 200 and json.loads(feed.text)["events"] == []
            r = api.post(f"/v1/accounts/{lc}/users", json={"userId": "nina", "email": "nina@node-a.example",
                                                           "attributes": {"Plan": "Gold", "we_x": 1}})  # fmt: skip
            assert r.status_code == 201
            users_rid = r.headers["x-request-id"]
            r = api.post(f"/v1/accounts/{lc}/events", json={"userId": "nina", "eventName": "Bought On A",
                                                            "eventData": {"sku": "A-1"}})  # fmt: skip
            assert r.status_code == 201
            events_rid = r.headers["x-request-id"]
            refused = api.post(f"/v1/accounts/{lc}/events", json={"eventName": "No Ids On A"})
            assert refused.status_code == 400
            assert wait_processed(api, lc, key)["pending"] == 0
            # the request traces and the debugger, on node B (the API's and the dashboard's)
            node_b = httpx.Client(base_url=b.base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
            with node_b:
                traced = node_b.get(f"/v1/accounts/{lc}/requests/{users_rid}").json()["response"]["data"]
            assert traced["status"] == "processed" and traced["rejections"][0]["field"] == "attributes.we_x"
            trace = board.get(base + f"requests/{events_rid}")
            assert trace.status_code == 200 and "Bought On A" in trace.text and "lag" in trace.text
            deadline = time.monotonic() + 15  # node A writes its refusals once a second
            while "No Ids On A" not in (debugger := board.get(base + "debugger")).text:
                assert time.monotonic() < deadline, debugger.text[:500]
                time.sleep(0.2)
            assert f'href="{base}requests/{events_rid}"' in debugger.text
            search = board.get(base + "users", params={"q": "nina@node-a"})
            assert search.status_code == 200 and f'href="{base}users/nina"' in search.text
            profile = board.get(base + "users/nina")
            assert profile.status_code == 200 and "Bought On A" in profile.text and "reserved_prefix" in profile.text
            events = json.loads(board.get(base + "events/feed", params={"after": "0"}).text)["events"]
            assert [(e["name"], e["user"]) for e in events] == [("Bought On A", "nina")]
            catalogue = board.get(base + "data")
            assert "Bought On A" in catalogue.text and "Plan" in catalogue.text
            quality = board.get(base + "data-quality")
            assert "attributes.we_x" in quality.text
        finally:
            for client in (api, session, board):
                client.close()
