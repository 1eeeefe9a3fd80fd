"""GDPR and business events through a real `openengage serve` on SQLite (#10): `--gdpr-pending-days 0`
reaches the processor process, whose erasure loop runs the request; business events are durable before
the 201 (the server is killed right after it and the event is still there)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support.server import Server, cli, wait_processed
from tests.support.sql import tables_holding

pytestmark = pytest.mark.slow


@pytest.mark.timeout(120)
def test_the_processor_process_runs_a_due_erasure(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", database_url=url).stdout)
    lc, auth = creds["license_code"], {"Authorization": f"Bearer {creds['api_key']}"}
    with Server(url, args=("--gdpr-pending-days", "0")) as server, httpx.Client(base_url=server.base) as client:
        r = client.post(f"/v1/accounts/{lc}/users", json={"userId": "leaving", "email": "l@x.test"}, headers=auth)
        assert r.status_code == 201
        wait_processed(client, lc, creds["api_key"])
        body = {
            "subject_request_id": "bye",
            "subject_request_type": "erasure",
            "subject_identities": [{"identity_type": "cuid", "identity_value": "leaving"}],
        }
        r = client.post(f"/v1/accounts/{lc}/opengdpr_requests", json=body, headers=auth)
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 60
        while (
            status := client.get(f"/v1/accounts/{lc}/opengdpr_requests/bye", headers=auth).json()["status"]
        ) != "DONE":
            assert status == "PROCESSING" and time.monotonic() < deadline
            time.sleep(0.5)
        assert client.get(f"/v1/accounts/{lc}/users/leaving", headers=auth).status_code == 404
        # The processor prunes the applied ingest log every 5 s: the request's log entry goes then.
        deadline = time.monotonic() + 30
        while tables_holding(url, "leaving") or tables_holding(url, "l@x.test"):
            assert time.monotonic() < deadline, tables_holding(url, "leaving")
            time.sleep(0.5)
    assert tables_holding(url, "leaving") == {} and tables_holding(url, "l@x.test") == {}
    audit = cli("audit", "list", lc, "--json", database_url=url).stdout
    assert "gdpr.erase" in audit and "leaving" not in audit


@pytest.mark.timeout(120)
def test_a_saved_business_event_survives_kill_9_right_after_its_201(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", database_url=url).stdout)
    lc, auth = creds["license_code"], {"Authorization": f"Bearer {creds['api_key']}"}
    definition = {"eventName": "Payout", "attributes": [{"attributeName": "amount", "dataType": "number"}]}
    server = Server(url).start()
    try:
        with httpx.Client(base_url=server.base) as client:
            r = client.post(f"/v2/accounts/{lc}/business/events/definition", json=definition, headers=auth)
            assert r.status_code == 201, r.text
            r = client.post(
                f"/v2/accounts/{lc}/business/save-event",
                json={"eventName": "Payout", "eventData": {"amount": 5}},
                headers=auth,
            )
            assert r.status_code == 201, r.text
        server.kill()
    finally:
        server.stop()
    with Server(url) as again, httpx.Client(base_url=again.base) as client:
        page = client.get(f"/v2/accounts/{lc}/business/events/Payout/events", headers=auth).json()
        assert [e["eventData"] for e in page["response"]["data"]["events"]] == [{"amount": 5}]
