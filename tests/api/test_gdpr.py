"""GDPR requests (WebEngage `opengdpr_requests`, #10): shapes and statuses, erasure after the pending period
(every table checked, not only the read API), cancellation, restriction and re-enable, portability, the
audit log without the person, limits. On both stores; the erasure clock is the `now` the test passes to
`Store.erase_due` (what the processor process calls every few seconds)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from openengage.api import gdpr as gdpr_api
from openengage.processor import eraser
from openengage.rules import gdpr
from openengage.rules.dates import now_ms
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_success
from tests.support.sql import rows, tables_holding

PATH = "/opengdpr_requests"
WEEK_AND_A_BIT = 7 * gdpr.DAY_MS + gdpr.GRACE_MS + 1000


def request(request_id: str, kind: str, user_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject_request_id": request_id,
        "subject_request_type": kind,
        "subject_identities": [{"identity_type": "cuid", "identity_value": user_id}],
        **extra,
    }


def send(api: Harness, body: Any = None, **kw: Any) -> httpx.Response:
    return api.post(PATH, body, **kw)


def get(api: Harness, request_id: str) -> httpx.Response:
    return api.client.get(f"/v1/accounts/{api.lc}{PATH}/{request_id}", headers=api.auth())


def cancel(api: Harness, request_id: str) -> httpx.Response:
    return api.client.delete(f"/v1/accounts/{api.lc}{PATH}/{request_id}", headers=api.auth())


def erase(api: Harness, at: int) -> list[Any]:
    return api.call(eraser.once, api.store, at)


def assert_error(r: httpx.Response, status: int, *fragments: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"status", "message"} and body["status"] == "error", body  # flat: no `response`
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


def seed_person(api: Harness, user_id: str = "gdpr-u1") -> None:
    """A person with every kind of data: an anonymous history identified into the profile, events, a
    dropped attribute, a device, a merged second id (ledger and merge events), and another user kept."""
    assert api.post("/events", {"anonymousId": "anon-1", "eventName": "Browsed"}).status_code == 201
    # Applied before the identify: on PostgreSQL the two ids fall in different partitions, whose order is
    # not kept (docs/cluster.md), and the identify would then link rather than merge (no ledger entry).
    api.drain()
    assert api.post("/users", {"userId": user_id, "anonymousId": "anon-1", "email": "p@x.test"}).status_code == 201
    body = {"userId": user_id, "eventName": "Bought", "eventData": {"sku": "A-1"}}
    assert api.post("/events", body).status_code == 201
    assert api.post("/users", {"userId": user_id, "attributes": {"we_hidden": 1}}).status_code == 201  # a rejection
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": "gdpr-other", "attributes": {"first_name": "Second"}}))
    api.drain()
    device = {"customer_id": user_id, "device_id": "dev-1", "attributes": {"platform": "web", "push_id": "p-1"}}
    assert_success(moe.device(device))
    assert_success(moe.merge({"merge_data": [{"merged_user": "gdpr-other", "retained_user": user_id}]}))
    assert api.post("/users", {"userId": "keep", "firstName": "Kept"}).status_code == 201
    assert api.post("/events", {"userId": "keep", "eventName": "Stayed"}).status_code == 201
    api.drain()


# ---------------------------------------------------------------- erasure


def test_erasure_waits_for_the_pending_period_then_removes_every_trace(api: Harness, database_url: str) -> None:
    seed_person(api)
    before = api.data("/stats")
    r = send(api, request("req-1", "erasure", "gdpr-u1", submitted_time="2018-10-02T15:00:00Z", api_version="1.0"))
    assert r.status_code == 201, r.text
    assert r.json() == {"subject_request_id": "req-1", "subject_request_type": "erasure",
                        "message": "erasure request registered"}  # fmt: skip
    assert get(api, "req-1").json() == {"subject_request_id": "req-1", "subject_request_type": "erasure",
                                        "status": "PENDING"}  # fmt: skip

    # Not before the pending period is over.
    assert erase(api, now_ms()) == []
    assert erase(api, now_ms() + 7 * gdpr.DAY_MS - 60_000) == []
    assert api.profile("gdpr-u1")["email"] == "p@x.test"

    (done,) = erase(api, now_ms() + WEEK_AND_A_BIT)
    assert (done.request_id, done.profiles, done.devices) == ("req-1", 1, 1)
    assert done.identities == 3  # gdpr-u1, anon-1, gdpr-other
    assert done.events == 4  # Browsed (anonymous, before the identify), Bought, the two merge events
    assert done.rejections == 1 and done.merges == 2  # the identify and the merge
    assert get(api, "req-1").json()["status"] == "DONE"
    assert erase(api, now_ms() + WEEK_AND_A_BIT) == []  # idempotent: done once

    # The read API knows nobody by any of the ids...
    for path in ("/users/gdpr-u1", "/users/gdpr-other", "/anonymous-users/anon-1"):
        assert api.get(path).status_code == 404
    assert api.data("/rejections")["rejections"] == []
    assert api.data("/merges")["merges"] == []
    after = api.data("/stats")
    assert after["users"] == before["users"] - 1 and after["events"] == before["events"] - 4
    # ... and no table holds any of them, in any column or JSON document (the processed ingest log pruned).
    api.call(api.store.maintain, now_ms())
    for needle in ("gdpr-u1", "anon-1", "gdpr-other", "p@x.test", "A-1", "dev-1"):
        assert tables_holding(database_url, needle) == {}, needle
    # The other user is untouched.
    assert api.profile("keep")["firstName"] == "Kept"
    assert [e["eventName"] for e in api.events("keep")["events"]] == ["Stayed"]
    # The request keeps a salted hash of whom it concerned, for someone who knows the id.
    ((user_id, salt, subject),) = rows(database_url, "SELECT user_id, salt, subject_hash FROM gdpr_requests")
    assert user_id is None and subject == hashlib.sha256(f"{salt}\x00gdpr-u1".encode()).hexdigest()
    assert subject == done.subject_hash


def test_the_erasure_is_audited_without_the_person(api: Harness, database_url: str) -> None:
    seed_person(api)
    assert send(api, request("req-a", "erasure", "gdpr-u1")).status_code == 201
    assert send(api, request("req-b", "restriction", "keep")).status_code == 201
    (done,) = erase(api, now_ms() + WEEK_AND_A_BIT)
    entries = api.call(api.store.audit, api.creds.account_id, 50, None).items
    gdpr_entries = [(e.actor, e.action, e.target) for e in entries if e.action.startswith("gdpr.")]
    assert gdpr_entries == [
        ("system", "gdpr.erase", "req-a"),
        ("owner@acme.test", "gdpr.register", "req-b"),
        ("owner@acme.test", "gdpr.register", "req-a"),
    ]
    erased = entries[0]
    assert done.subject_hash in erased.detail
    assert "1 profile, 3 identities, 4 events, 1 device, 1 rejection, 2 merge ledger entries" in erased.detail
    for entry in entries:
        assert "gdpr-u1" not in f"{entry.target} {entry.detail}"
    assert tables_holding(database_url, "gdpr-u1").keys() <= {"log.entries"}  # only the unpruned ingest log


def test_records_still_pending_in_the_ingest_log_are_applied_before_the_erasure(api: Harness) -> None:
    """Nothing accepted before the erasure fell due may re-create the user after it: the erasure waits
    (PROCESSING) until the account's older records are applied, then removes them too."""
    assert api.post("/users", {"userId": "late", "firstName": "L"}).status_code == 201
    api.drain()
    assert send(api, request("req-late", "erasure", "late")).status_code == 201
    assert api.post("/events", {"userId": "late", "eventName": "StillQueued"}).status_code == 201
    assert erase(api, now_ms() + WEEK_AND_A_BIT) == []  # the event is still in the log
    assert get(api, "req-late").json()["status"] == "PENDING"
    api.drain()
    (done,) = erase(api, now_ms() + WEEK_AND_A_BIT)
    assert done.events == 1
    assert api.get("/users/late").status_code == 404


def test_data_sent_after_the_erasure_starts_a_new_profile(api: Harness) -> None:
    assert api.post("/users", {"userId": "again", "firstName": "Old"}).status_code == 201
    api.drain()
    assert send(api, request("req-again", "erasure", "again")).status_code == 201
    assert len(erase(api, now_ms() + WEEK_AND_A_BIT)) == 1
    assert api.post("/events", {"userId": "again", "eventName": "Back"}).status_code == 201
    api.drain()
    profile = api.profile("again")
    assert "firstName" not in profile
    assert [e["eventName"] for e in api.events("again")["events"]] == ["Back"]


@pytest.fixture
def due_at_once(database_url: str) -> Iterator[Harness]:
    with Harness(database_url, gdpr_pending_days=0) as harness:
        yield harness


def test_a_pending_period_of_zero_days_runs_the_erasure_at_once(due_at_once: Harness) -> None:
    api = due_at_once
    assert api.post("/users", {"userId": "now"}).status_code == 201
    api.drain()
    assert send(api, request("req-now", "erasure", "now")).status_code == 201
    # Due at once: no longer cancellable, PROCESSING until the processor runs it (after the margin).
    assert get(api, "req-now").json()["status"] == "PROCESSING"
    assert_error(cancel(api, "req-now"), 400, "PROCESSING", "only a pending request can be cancelled")
    assert erase(api, now_ms()) == []  # inside the 10-second margin
    assert len(erase(api, now_ms() + gdpr.GRACE_MS + 1000)) == 1
    assert get(api, "req-now").json()["status"] == "DONE"


# ---------------------------------------------------------------- cancellation


def test_a_pending_erasure_can_be_cancelled_and_then_never_runs(api: Harness) -> None:
    assert api.post("/users", {"userId": "stay"}).status_code == 201
    api.drain()
    assert send(api, request("req-c", "erasure", "stay")).status_code == 201
    r = cancel(api, "req-c")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "subject_request_id": "req-c",
        "subject_request_type": "erasure",
        "message": "request cancelled",
    }
    assert get(api, "req-c").json()["status"] == "CANCELLED"
    assert erase(api, now_ms() + WEEK_AND_A_BIT) == []
    assert api.profile("stay")["userId"] == "stay"
    assert_error(cancel(api, "req-c"), 400, "CANCELLED, not PENDING")
    assert_error(cancel(api, "nope"), 404, "no GDPR request 'nope'")
    assert send(api, request("req-r", "restriction", "stay")).status_code == 201
    assert_error(cancel(api, "req-r"), 400, "DONE, not PENDING")
    entries = api.call(api.store.audit, api.creds.account_id, 10, None).items
    assert [(e.action, e.target, e.detail) for e in entries[:3]] == [
        ("gdpr.register", "req-r", "type: restriction"),
        ("gdpr.cancel", "req-c", "type: erasure"),
        ("gdpr.register", "req-c", entries[2].detail),
    ]
    assert entries[2].detail.startswith("type: erasure; due: ")


# ---------------------------------------------------------------- restriction and re-enable


def test_restriction_drops_new_data_with_reason_restricted_until_re_enabled(api: Harness) -> None:
    assert api.post("/users", {"userId": "calm", "anonymousId": "calm-anon", "firstName": "Before"}).status_code == 201
    assert api.post("/users", {"userId": "other", "firstName": "Other"}).status_code == 201
    api.drain()
    r = send(api, request("req-res", "restriction", "calm"))
    assert r.status_code == 201, r.text
    assert r.json()["message"] == "restriction request registered"
    assert get(api, "req-res").json()["status"] == "DONE"

    moe = Moe(api)
    assert api.post("/users", {"userId": "calm", "firstName": "After"}).status_code == 201
    assert api.post("/events", {"userId": "calm", "eventName": "Blocked"}).status_code == 201
    assert api.post("/events", {"anonymousId": "calm-anon", "eventName": "BlockedToo"}).status_code == 201
    assert_success(moe.event({"customer_id": "calm", "actions": [{"action": "MoeBlocked"}]}))
    assert_success(
        moe.device({"customer_id": "calm", "device_id": "d", "attributes": {"platform": "web", "push_id": "p"}})
    )
    assert api.post("/users", {"userId": "other", "firstName": "Changed"}).status_code == 201
    api.drain()
    profile = api.profile("calm")
    assert profile["firstName"] == "Before" and "devices" not in profile
    assert api.events("calm")["events"] == []
    assert api.profile("other")["firstName"] == "Changed"  # others are not affected
    dropped = api.data("/rejections", params={"userId": "calm"})["rejections"]
    assert sorted(r["kind"] for r in dropped) == ["device", "event", "event", "user"]
    assert all((r["reason"], r["action"], r["field"]) == ("restricted", "dropped", "userId") for r in dropped)
    anonymous = [r for r in api.data("/rejections")["rejections"] if r["anonymousId"] == "calm-anon"]
    assert [(r["kind"], r["reason"]) for r in anonymous] == [("event", "restricted")]

    r = send(api, request("req-on", "re-enable", "calm"))
    assert r.status_code == 201 and r.json()["message"] == "re-enable request registered"
    assert api.post("/users", {"userId": "calm", "firstName": "Again"}).status_code == 201
    assert api.post("/events", {"userId": "calm", "eventName": "Allowed"}).status_code == 201
    api.drain()
    assert api.profile("calm")["firstName"] == "Again"
    assert [e["eventName"] for e in api.events("calm")["events"]] == ["Allowed"]


def test_restriction_applies_to_records_accepted_before_it_and_still_pending(api: Harness) -> None:
    assert api.post("/users", {"userId": "queued"}).status_code == 201
    api.drain()
    assert api.post("/events", {"userId": "queued", "eventName": "Waiting"}).status_code == 201  # not applied yet
    assert send(api, request("req-q", "restriction", "queued")).status_code == 201
    api.drain()
    assert api.events("queued")["events"] == []
    assert [r["reason"] for r in api.data("/rejections")["rejections"]] == ["restricted"]


# ---------------------------------------------------------------- portability


def test_portability_embeds_the_profile_and_its_events(api: Harness) -> None:
    body = {"userId": "port", "anonymousId": "port-anon", "firstName": "Pat", "attributes": {"Plan": "gold"}}
    assert api.post("/users", body).status_code == 201
    for i, when in enumerate(("2024-01-01T10:00:00+0000", "2024-01-02T10:00:00+0000")):
        event = {"userId": "port", "eventName": f"E{i}", "eventTime": when, "eventData": {"n": i}}
        assert api.post("/events", event).status_code == 201
    api.drain()
    r = send(api, request("req-p", "portability", "port"))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert list(doc) == [
        *("subject_request_id", "subject_request_type", "message", "profile", "events", "next", "transactions")
    ]
    assert doc["transactions"] == []  # no messaging for this user (tests/messaging/test_gdpr_messaging.py)
    assert doc["message"] == "portability request registered"
    assert doc["profile"] == api.profile("port")
    assert doc["profile"]["anonymousIds"] == ["port-anon"] and doc["profile"]["attributes"] == {"Plan": "gold"}
    assert doc["events"] == api.events("port")["events"]
    assert [e["eventName"] for e in doc["events"]] == ["E1", "E0"] and doc["next"] is None
    assert get(api, "req-p").json()["status"] == "DONE"


def test_portability_is_bounded_and_says_where_the_rest_is(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gdpr_api, "PORTABLE_EVENTS", 3)
    monkeypatch.setattr(gdpr_api, "_PAGE", 2)
    for i in range(5):
        assert api.post("/events", {"userId": "many", "eventName": f"E{i}"}).status_code == 201
    api.drain()
    doc = send(api, request("req-m", "portability", "many")).json()
    assert [e["eventName"] for e in doc["events"]] == ["E4", "E3", "E2"]
    rest = api.events("many", cursor=doc["next"])
    assert [e["eventName"] for e in rest["events"]] == ["E1", "E0"]


# ---------------------------------------------------------------- errors and limits


def test_refusals_and_their_shapes(api: Harness) -> None:
    assert api.post("/users", {"userId": "known"}).status_code == 201
    api.drain()
    cases: list[tuple[Any, str]] = [
        (request("r", "forget", "known"), "subject_request_type must be one of erasure, restriction, re-enable"),
        ({"subject_request_type": "erasure", "subject_identities": []}, "subject_request_id is required"),
        (request(7, "erasure", "known"), "subject_request_id must be a string"),
        (request("r", "erasure", "known") | {"subject_identities": []}, "exactly one identity"),
        (
            request("r", "erasure", "known")
            | {"subject_identities": [{"identity_type": "cuid", "identity_value": "known"}] * 2},
            "exactly one identity",
        ),
        (
            request("r", "erasure", "known")
            | {"subject_identities": [{"identity_type": "email", "identity_value": "a"}]},
            "identity_type must be 'cuid'",
        ),
        (request("r", "erasure", ""), "identity_value is required"),
        (request("r", "erasure", "x" * 101), "identity_value can be of maximum 100 characters"),
        (request("r\x00", "erasure", "known"), "contains the NUL character"),
        (request("r", "erasure", "stranger"), "no user with id 'stranger'"),
        ([1], "request body must be a JSON object"),
    ]
    for body, fragment in cases:
        assert_error(send(api, body), 400, fragment)
    assert_error(send(api, content=b"{not json"), 400, "not valid JSON")
    assert_error(send(api, content=b""), 400, "request body is empty")
    assert send(api, request("dup", "portability", "known")).status_code == 201
    assert_error(send(api, request("dup", "erasure", "known")), 400, "subject_request_id 'dup' is not unique")
    assert_error(send(api, request("r", "erasure", "known"), key="wrong"), 401, "Unauthorized")
    assert_error(send(api, request("r", "erasure", "known"), lc="~nobody"), 404, "no account")
    r = api.client.post(
        f"/v1/accounts/{api.lc}{PATH}", content=b"{}", headers={**api.auth(), "Content-Type": "text/plain"}
    )
    assert_error(r, 415, "Content-Type")
    assert_error(send(api, content=b"{" + b" " * (api.settings.max_body_bytes + 1) + b"}"), 413)
    assert_error(get(api, "missing"), 404, "no GDPR request 'missing'")
    assert_error(get(api, "bad%00id"), 404)
    r = api.client.get(f"/v1/accounts/{api.lc}{PATH}/x", headers={"Authorization": "Bearer nope"})
    assert_error(r, 401)
    # A request id may hold any character, "/" included.
    assert send(api, request("a/b c", "restriction", "known")).status_code == 201
    assert get(api, "a%2Fb%20c").json()["status"] == "DONE"
    assert "gdpr.register" in {e.action for e in api.call(api.store.audit, api.creds.account_id, 5, None).items}


@pytest.fixture
def limited(database_url: str) -> Iterator[Harness]:
    with Harness(database_url, limits={"gdpr": 3}) as harness:
        yield harness


@pytest.mark.usefixtures("steady_rate_window")
def test_every_call_counts_against_the_gdpr_limit_and_refusals_cost_nothing(limited: Harness) -> None:
    api = limited
    assert api.post("/users", {"userId": "lim"}).status_code == 201
    api.drain()
    first = send(api, request("l1", "restriction", "lim"))
    assert first.status_code == 201
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("3", "2")
    refused = send(api, request("l1", "restriction", "lim"))  # duplicate: 400, costs nothing
    assert refused.status_code == 400 and refused.headers["X-RateLimit-Remaining"] == "2"
    assert get(api, "missing").status_code == 404
    assert get(api, "l1").headers["X-RateLimit-Remaining"] == "1"
    assert cancel(api, "l1").status_code == 400
    assert send(api, request("l2", "re-enable", "lim")).headers["X-RateLimit-Remaining"] == "0"
    over = get(api, "l1")
    assert_error(over, 429, "rate limit of 3 GDPR requests per minute exceeded")
    assert over.headers["X-RateLimit-Remaining"] == "0" and 1 <= int(over.headers["Retry-After"]) <= 60
    assert_error(send(api, request("l3", "restriction", "lim")), 429)
    # Nothing of a refused request happened: l3 does not exist.
    assert api.call(api.store.audit, api.creds.account_id, 10, None).items[0].target == "l2"


def test_the_default_limit_is_the_vendors_100_per_minute(api: Harness) -> None:
    assert api.post("/users", {"userId": "d"}).status_code == 201
    api.drain()
    r = send(api, request("d1", "portability", "d"))
    assert r.headers["X-RateLimit-Limit"] == "100"
