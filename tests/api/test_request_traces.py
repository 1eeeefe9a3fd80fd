"""Request traces: every accepted ingest request has an id, and `GET /requests/{id}` says what became of it."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from openengage.processor import eraser
from openengage.rules.dates import now_ms
from tests.support.harness import Harness

pytestmark = pytest.mark.timeout(120)

_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def trace(api: Harness, request_id: str, **kw: object) -> dict[str, object]:
    data: dict[str, object] = api.data(f"/requests/{quote(request_id, safe='')}", **kw)  # type: ignore[arg-type]
    return data


def flush_refusals(api: Harness) -> None:
    api.call(api.app.state.services.refusals.flush)


def test_assigned_id_is_returned_and_traced_pending_then_processed(api: Harness) -> None:
    r = api.post("/events", {"userId": "u1", "eventName": "Added to Cart", "eventData": {"we_x": 1, "Price": 5}})
    assert r.status_code == 201
    rid = r.headers["x-request-id"]
    assert _UUID7.fullmatch(rid), rid
    pending = trace(api, rid)
    assert pending["status"] == "pending" and pending["processedAt"] is None and pending["lagMs"] is None
    assert pending["endpoint"] == "/events" and pending["dialect"] == "webengage" and pending["records"] == 1
    assert pending["profiles"] == [{"userId": "u1", "anonymousId": None, "found": False, "profileUserId": None}]
    api.drain()
    done = trace(api, rid)
    assert done["status"] == "processed" and isinstance(done["lagMs"], int) and done["lagMs"] >= 0
    assert done["processedAt"] and done["receivedAt"] <= done["committedAt"]  # type: ignore[operator]
    assert done["profiles"] == [{"userId": "u1", "anonymousId": None, "found": True, "profileUserId": "u1"}]
    assert [e["eventName"] for e in done["events"]] == ["Added to Cart"]  # type: ignore[attr-defined]
    rejected = [(x["field"], x["reason"], x["action"]) for x in done["rejections"]]  # type: ignore[attr-defined]
    assert rejected == [("eventData.we_x", "reserved_prefix", "dropped")]


def test_client_id_is_kept_no_header_and_dedupe_unchanged(api: Harness) -> None:
    h = {"x-request-id": "retry-me/1 <b>"}
    first = api.post("/users", {"userId": "u2", "firstName": "A"}, headers=h)
    again = api.post("/users", {"userId": "u2", "firstName": "B"}, headers=h)
    assert first.status_code == again.status_code == 201
    assert "x-request-id" not in first.headers and "x-request-id" not in again.headers
    assert api.data("/stats")["pending"] == 1  # the retry stored nothing
    api.drain()
    t = trace(api, "retry-me/1 <b>")
    assert t["requestId"] == "retry-me/1 <b>" and t["endpoint"] == "/users" and t["status"] == "processed"
    assert api.profile("u2")["firstName"] == "A"
    # An assigned id never enters de-duplication: two identical requests without one are both stored.
    a = api.post("/events", {"userId": "u2", "eventName": "E"})
    b = api.post("/events", {"userId": "u2", "eventName": "E"})
    assert a.headers["x-request-id"] != b.headers["x-request-id"]
    assert api.data("/stats")["pending"] == 2


def test_truncations_and_drops_of_a_bulk_request(api: Harness) -> None:
    users = [{"userId": "b1", "attributes": {"Bio": "x" * 1200}}, {"anonymousId": "anon-9", "attributes": {"N": 1}}]
    r = api.post("/bulk-users", {"users": users})
    rid = r.headers["x-request-id"]
    # Applied first, so N locks as a number here (PostgreSQL applies partitions in parallel: anon-9 and b1
    # may be in different ones, and the later request could otherwise lock N first).
    api.drain()
    api.post("/users", {"userId": "b1", "attributes": {"N": "text now"}})  # another request: not in this trace
    api.drain()
    t = trace(api, rid)
    assert t["records"] == 2
    # the later request's type drop of N is its own, not this one's
    rejected = [(x["field"], x["reason"], x["action"], x["userId"]) for x in t["rejections"]]  # type: ignore[attr-defined]
    assert rejected == [("attributes.Bio", "truncated", "truncated", "b1")]
    assert {(p["userId"], p["anonymousId"]) for p in t["profiles"]} == {("b1", None), (None, "anon-9")}  # type: ignore[attr-defined]


def test_moengage_requests_are_traced_under_the_body_request_id(api: Harness) -> None:
    body = {"type": "event", "customer_id": "m1", "actions": [{"action": "Bought", "attributes": {"p": 1}}]}
    r = api.client.post(f"/v1/event/{api.creds.app_id}", json=body, headers=api.basic())
    assert r.status_code == 200, r.text
    rid = r.json()["request_id"]
    assert r.headers["x-request-id"] == rid
    api.drain()
    t = trace(api, rid)
    assert t["dialect"] == "moengage" and t["endpoint"] == "/v1/event" and t["status"] == "processed"
    assert [e["eventName"] for e in t["events"]] == ["Bought"]  # type: ignore[attr-defined]
    # A client's x-request-id names the trace (and is not answered back).
    r = api.client.post(
        f"/v1/customer?app_id={api.creds.app_id}",
        json={"type": "customer", "customer_id": "m1", "attributes": {"first_name": "M"}},
        headers={**api.basic(), "x-request-id": "moe-client-1"},
    )
    assert r.status_code == 200 and "x-request-id" not in r.headers and r.json()["request_id"] == "moe-client-1"
    assert trace(api, "moe-client-1")["endpoint"] == "/v1/customer"


def test_unknown_other_account_bad_key_and_xml(api: Harness) -> None:
    rid = api.post("/events", {"userId": "u3", "eventName": "E"}).headers["x-request-id"]
    assert api.get("/requests/nope").status_code == 404
    assert api.get(f"/requests/{'x' * 201}").status_code == 404
    other = api.call(api.store.create_account, "other", "o@other.test")
    api.refresh_auth()
    assert api.get(f"/requests/{rid}", lc=other.license_code, key=other.api_key).status_code == 404
    assert api.get(f"/requests/{rid}", key="wrong").status_code == 401
    xml = api.get(f"/requests/{rid}", params={"format": "xml"})
    assert xml.status_code == 200 and f"<requestId>{rid}</requestId>" in xml.text


def test_refused_requests_are_recorded_bounded_and_without_credentials(api: Harness) -> None:
    api.post("/events", content=b'{"eventName": "E"}')  # 400: no ids
    api.post("/events", {"userId": "u", "eventName": "E"}, key="not-a-key")  # 401
    api.client.post(
        f"/v1/accounts/{api.lc}/events", content=b"x", headers={**api.auth(), "Content-Type": "text/plain"}
    )  # 415
    flush_refusals(api)
    seen = api.call(api.store.recent_requests, api.creds.account_id, 50, False, None)
    by_status = {s.status: s for s in seen}
    assert set(by_status) == {400, 401, 415}
    assert by_status[400].body == '{"eventName": "E"}' and "userId" in by_status[400].message
    assert by_status[401].body == "" and api.creds.api_key not in repr(seen) and "not-a-key" not in repr(seen)
    # bodies are cut to 1 KiB
    api.post("/events", content=b'{"eventName": "' + b"y" * 5000 + b'"}')
    flush_refusals(api)
    latest = api.call(api.store.recent_requests, api.creds.account_id, 1, False, None)[0]
    assert len(latest.body.encode()) <= 1024


def test_refused_requests_keep_the_newest_per_account(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from openengage.store import traces

    monkeypatch.setattr(traces, "REFUSED_PER_ACCOUNT", 5)
    for i in range(12):
        api.post("/events", content=b'{"n": %d}' % i)
    flush_refusals(api)
    seen = api.call(api.store.recent_requests, api.creds.account_id, 50, False, None)
    assert [s.body for s in seen] == [b'{"n": %d}'.decode() % i for i in range(11, 6, -1)]


def test_gdpr_erasure_removes_traces_and_refused_bodies(api: Harness) -> None:
    keep = api.post("/events", {"userId": "keeper", "eventName": "E"}).headers["x-request-id"]
    gone = api.post("/users", {"userId": "gdpr-me", "anonymousId": "gdpr-anon"}).headers["x-request-id"]
    gone_anon = api.post("/events", {"anonymousId": "gdpr-anon", "eventName": "E"}).headers["x-request-id"]
    api.post("/events", content=b'{"userId": "gdpr-me", "eventName": 5}')  # 400, body names the person
    flush_refusals(api)
    api.drain()
    r = api.post(
        "/opengdpr_requests",
        {"subject_request_id": "g-1", "subject_request_type": "erasure", "subject_identities": [
            {"identity_type": "cuid", "identity_value": "gdpr-me", "identity_format": "raw"}]},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    api.drain()
    api.call(eraser.once, api.store, now_ms() + 30 * 86_400_000)
    assert api.get(f"/requests/{gone}").status_code == 404
    assert api.get(f"/requests/{gone_anon}").status_code == 404
    assert trace(api, keep)["status"] == "processed"
    refused = api.call(api.store.recent_requests, api.creds.account_id, 50, False, None)
    assert not any("gdpr-me" in s.body for s in refused)


def test_traces_outlive_the_log_and_go_after_retention(api: Harness) -> None:
    rid = api.post("/events", {"userId": "old", "eventName": "E"}).headers["x-request-id"]
    api.drain()
    api.call(api.store.maintain, now_ms())  # the log entry is pruned: the trace stays
    assert trace(api, rid)["status"] == "processed"
    deadline = time.monotonic() + 10
    api.call(api.store.maintain, now_ms() + 73 * 3600 * 1000)
    while api.get(f"/requests/{rid}").status_code != 404:
        assert time.monotonic() < deadline
        api.call(api.store.maintain, now_ms() + 73 * 3600 * 1000)
