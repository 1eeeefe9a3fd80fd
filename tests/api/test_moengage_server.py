"""Every MoEngage endpoint over real HTTP against `openengage serve`, read back through the read API."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx2 as httpx
import pytest

from tests.support import moengage_fixtures as fx
from tests.support.server import cli, running, wait_processed

pytestmark = pytest.mark.slow


def wait_for(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_every_endpoint_end_to_end(database_url: str) -> None:
    cli("migrate", database_url=database_url)
    created = cli(
        "accounts", "create", "acme", "--json", "--rate-limit", "moengage-users=50", database_url=database_url
    )
    creds = json.loads(created.stdout)
    app_id, key, lc = creds["app_id"], creds["data_api_key"], creds["license_code"]
    basic = "Basic " + base64.b64encode(f"{app_id}:{key}".encode()).decode()
    headers = {"Authorization": basic, "Content-Type": "application/json", "MOE-APPKEY": app_id}
    read = {"Authorization": f"Bearer {creds['api_key']}"}

    with running(database_url) as server, httpx.Client(base_url=server.base, timeout=30) as client:

        def post(path: str, payload: Any, **params: str) -> httpx.Response:
            r = client.post(path, json=payload, headers=headers, params=params)
            assert r.status_code == 200, r.text
            return r

        r = post(f"/v1/customer/{app_id}", fx.RUDDER_IDENTIFY)
        assert r.json()["message"] == fx.SUCCESS_MESSAGE
        assert r.headers["x-ratelimit-limit"] == "50"
        post(f"/v1/device/{app_id}", fx.RUDDER_DEVICE)
        post(f"/v1/event/{app_id}", fx.RUDDER_TRACK)
        post(f"/v1/transition/{app_id}", fx.BULK, app_id=app_id)
        post(f"/v1/customer/{app_id}", {"customer_id": "to-merge", "attributes": {"extra": 1}})
        post(f"/v1/customer/{app_id}", {"customer_id": "to-delete"})
        assert wait_processed(client, lc, creds["api_key"])["pending"] == 0

        post(
            "/v1/customer/merge",
            {"merge_data": [{"merged_user": "to-merge", "retained_user": "rudder123"}]},
            app_id=app_id,
        )
        post("/v1/customer/delete", {"identity_type": "customer_id", "identity_value": "to-delete"}, app_id=app_id)
        assert wait_processed(client, lc, creds["api_key"])["pending"] == 0

        profile = client.get(f"/v1/accounts/{lc}/users/rudder123", headers=read).json()["response"]["data"]
        assert profile["name"] == "Rudder Test" and profile["attributes"]["company.id"] == "abc123"
        assert profile["attributes"]["extra"] == 1  # merged in
        assert profile["devices"][0]["device_id"] == "7e32188a4dab669f"
        events = client.get(f"/v1/accounts/{lc}/users/rudder123/events", headers=read).json()["response"]["data"]
        names = [e["eventName"] for e in events["events"]]
        assert names == ["MOE_USER_MERGED", "MOE_USER_MERGE_EVENT", "Order Completed"]  # merge events (#10)
        john = client.get(f"/v1/accounts/{lc}/users/john@example.com/events", headers=read).json()["response"]["data"]
        assert len(john["events"]) == 2
        assert client.get(f"/v1/accounts/{lc}/users/to-delete", headers=read).status_code == 404

        query = {"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": "rudder123"}]}}
        exported = post("/v1/customers/export", query, app_id=app_id).json()
        assert exported["data"]["users"][0]["user_attributes"]["email"] == "rudderTest@gmail.com"

        refused = client.post(f"/v1/event/{app_id}", content=b"{", headers=headers)
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "Malformed JSON"
