"""WebEngage dialect: request ids, rate limits, and what the processor makes of accepted records."""

from __future__ import annotations

from typing import Any

import pytest

from openengage.rules.dates import parse_iso
from tests.support import seeds
from tests.support.harness import Harness


def test_request_id_deduplicates_single_and_bulk(api: Harness) -> None:
    for _ in range(3):
        r = api.post("/events", seeds.EVENT, headers={"x-request-id": "abc123"})
        assert (r.status_code, r.json()) == (201, {"response": {"status": "queued"}})
    for _ in range(2):
        assert api.post("/bulk-events", seeds.BULK_EVENTS, headers={"x-request-id": "bulk-1"}).status_code == 201
    assert api.post("/events", seeds.EVENT, headers={"x-request-id": "other"}).status_code == 201
    api.drain()
    assert api.data("/stats")["events"] == 1 + 2 + 1


def test_request_id_is_scoped_per_account(api: Harness) -> None:
    other = api.call(api.store.create_account, "other", "o@x.test", None)
    api.refresh_auth()
    assert api.post("/events", seeds.EVENT, headers={"x-request-id": "same"}).status_code == 201
    r = api.post("/events", seeds.EVENT, headers={"x-request-id": "same"}, lc=other.license_code, key=other.api_key)
    assert r.status_code == 201
    api.drain()
    assert api.data("/stats")["events"] == 1
    assert api.data("/stats", lc=other.license_code, key=other.api_key)["events"] == 1


def test_rejected_request_id_can_be_retried(api: Harness) -> None:
    assert api.post("/events", {"eventName": "x"}, headers={"x-request-id": "r1"}).status_code == 400
    assert api.post("/events", seeds.EVENT, headers={"x-request-id": "r1"}).status_code == 201
    api.drain()
    assert api.data("/stats")["events"] == 1


def set_limits(api: Harness, **limits: int) -> None:
    api.call(api.store.set_limits, api.creds.account_id, limits)
    api.refresh_auth()


@pytest.mark.usefixtures("steady_rate_window")
def test_rate_limit_headers_and_429(api: Harness) -> None:
    set_limits(api, events=3)
    seen = []
    for _ in range(3):
        r = api.post("/events", seeds.EVENT)
        assert r.status_code == 201
        seen.append((r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]))
    assert seen == [("3", "2"), ("3", "1"), ("3", "0")]
    r = api.post("/events", seeds.EVENT)
    assert r.status_code == 429
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "rate limit of 3 requests per minute" in r.json()["response"]["message"]
    # a refused request (400) carries the headers and consumes nothing
    r = api.post("/events", {"eventName": "x"})
    assert r.status_code == 400 and r.headers["X-RateLimit-Remaining"] == "0"
    # other endpoints have their own limits
    assert api.post("/users", seeds.USER).headers["X-RateLimit-Limit"] == "5000"
    api.drain()
    assert api.data("/stats")["events"] == 3


@pytest.mark.usefixtures("steady_rate_window")
def test_default_limits_and_unlimited(api: Harness) -> None:
    assert api.post("/bulk-events", seeds.BULK_EVENTS).headers["X-RateLimit-Limit"] == "500"
    assert api.post("/users", seeds.USER).headers["X-RateLimit-Limit"] == "5000"
    set_limits(api, users=0)
    r = api.post("/users", seeds.USER)
    assert r.status_code == 201 and "X-RateLimit-Limit" not in r.headers


@pytest.mark.usefixtures("steady_rate_window")
def test_duplicate_does_not_consume_the_limit(api: Harness) -> None:
    set_limits(api, events=2)
    for _ in range(5):
        assert api.post("/events", seeds.EVENT, headers={"x-request-id": "same"}).status_code == 201
    assert api.post("/events", seeds.EVENT).status_code == 201
    assert api.post("/events", seeds.EVENT).status_code == 429


def test_identify_merges_anonymous_profile_and_its_events(api: Harness) -> None:
    assert (
        api.post(
            "/events", {"anonymousId": "anon-1", "eventName": "Viewed", "eventTime": "2024-01-01T00:00:00Z"}
        ).status_code
        == 201
    )
    assert api.post("/users", {"anonymousId": "anon-1", "attributes": {"source": "ad"}}).status_code == 201
    api.drain()
    assert api.data("/stats")["anonymousUsers"] == 1
    assert api.data("/anonymous-users/anon-1")["userId"] is None
    assert api.post("/users", {"userId": "known", "firstName": "K"}).status_code == 201
    assert (
        api.post(
            "/events", {"userId": "known", "eventName": "Signed up", "eventTime": "2024-01-02T00:00:00Z"}
        ).status_code
        == 201
    )
    assert api.post("/users", {"userId": "known", "anonymousId": "anon-1"}).status_code == 201
    api.drain()
    profile = api.profile("known")
    assert profile["anonymousIds"] == ["anon-1"]
    assert profile["attributes"] == {"source": "ad"} and profile["firstName"] == "K"
    assert [e["eventName"] for e in api.events("known")["events"]] == ["Signed up", "Viewed"]
    assert api.data("/stats") == {"users": 1, "anonymousUsers": 0, "events": 2, "pending": 0, "deadLetters": 0}
    assert api.data("/anonymous-users/anon-1")["userId"] == "known"
    merges = api.data("/merges")["merges"]
    assert [(m["kind"], m["userId"], m["anonymousId"]) for m in merges] == [("identify", "known", "anon-1")]
    # later anonymous traffic lands on the known profile
    assert api.post("/events", {"anonymousId": "anon-1", "eventName": "Again"}).status_code == 201
    api.drain()
    assert api.events("known")["events"][0]["eventName"] == "Again"


def test_first_identification_promotes_the_anonymous_profile(api: Harness) -> None:
    api.post("/events", {"anonymousId": "a2", "eventName": "Visit"})
    api.drain()
    api.post("/users", {"userId": "new-user", "anonymousId": "a2"})
    api.drain()
    assert [e["eventName"] for e in api.events("new-user")["events"]] == ["Visit"]
    assert api.data("/stats")["users"] == 1 and api.data("/stats")["anonymousUsers"] == 0


def test_events_with_both_ids_go_to_the_known_user_without_merging(api: Harness) -> None:
    api.post("/events", {"anonymousId": "a3", "eventName": "Anon"})
    api.post("/events", {"userId": "u3", "anonymousId": "a3", "eventName": "Both"})
    api.drain()
    assert [e["eventName"] for e in api.events("u3")["events"]] == ["Both"]
    assert api.events("u3")["events"][0]["anonymousId"] == "a3"
    assert api.data("/anonymous-users/a3")["userId"] is None
    assert api.data("/stats")["anonymousUsers"] == 1


def test_attribute_rules_and_rejections(api: Harness) -> None:
    attrs: dict[str, Any] = {"plan": "gold", "we_hidden": 1, "bio": "b" * 1200, "x" * 50: 1, "nothing": None}
    api.post("/users", {"userId": "u", "attributes": attrs, "nickname": "JD"})
    api.post("/users", {"userId": "u", "attributes": {"plan": 5}})
    api.drain()
    profile = api.profile("u")
    assert profile["attributes"] == {"plan": "gold", "bio": "b" * 999}
    rejections = api.data("/rejections")["rejections"]
    got = sorted((r["field"], r["reason"], r["action"]) for r in rejections)
    assert got == sorted(
        [
            ("attributes.we_hidden", "reserved_prefix", "dropped"),
            ("attributes.bio", "truncated", "truncated"),
            ("attributes." + "x" * 50, "name_too_long", "dropped"),
            ("attributes.nothing", "null_value", "dropped"),
            ("nickname", "unknown_field", "dropped"),
            ("attributes.plan", "type_conflict", "dropped"),
        ]
    )
    assert all(r["userId"] == "u" for r in rejections)
    schema = api.data("/schema")
    assert schema["users"]["plan"]["type"] == "String"
    assert schema["users"]["bio"]["type"] == "String"


def test_25_attributes_per_type_per_event_name(api: Harness) -> None:
    data = {f"n{i}": i for i in range(26)}
    api.post("/events", {"userId": "u", "eventName": "Big", "eventData": data})
    api.post("/events", {"userId": "u", "eventName": "Other", "eventData": data})
    api.drain()
    events = {e["eventName"]: e["eventData"] for e in api.events("u")["events"]}
    assert len(events["Big"]) == 25 and len(events["Other"]) == 25
    assert len(api.data("/rejections")["rejections"]) == 2
    schema = api.data("/schema")["events"]
    assert set(schema) == {"Big", "Other"} and all(v["type"] == "Number" for v in schema["Big"].values())


def test_reserved_event_name_is_ignored_and_recorded(api: Harness) -> None:
    assert api.post("/events", {"userId": "u", "eventName": "we_signup"}).status_code == 201
    api.drain()
    assert api.get("/users/u").status_code == 404  # the event was the only datum: no profile either
    (rej,) = api.data("/rejections")["rejections"]
    assert (rej["field"], rej["reason"], rej["eventName"]) == ("eventName", "reserved_prefix", "we_signup")


@pytest.mark.parametrize(
    "event_time",
    ["2024-01-01T00:00:00.000Z", "2024-01-01T05:30:00+05:30", "2024-01-01T00:00:00+0000", 1704067200, 1704067200000],
)
def test_event_time_variants(api: Harness, event_time: Any) -> None:
    api.post("/events", {"userId": "u", "eventName": "T", "eventTime": event_time})
    api.post("/events", {"userId": "u", "eventName": "Later", "eventTime": "2024-01-01T00:00:01Z"})
    api.drain()
    events = api.events("u")["events"]
    assert [e["eventName"] for e in events] == ["Later", "T"]
    shown = events[1]["eventTime"]
    assert shown == event_time if isinstance(event_time, str) else shown == "2024-01-01T00:00:00+0000"
    assert parse_iso(str(events[1]["eventTime"])) == 1704067200000


def test_event_without_time_uses_the_accept_time(api: Harness) -> None:
    api.post("/events", {"userId": "u", "eventName": "Now"})
    api.drain()
    (event,) = api.events("u")["events"]
    assert event["eventTime"] == event["receivedAt"]


def test_event_data_as_json_string(api: Harness) -> None:
    api.post("/events", {"userId": "u", "eventName": "S", "eventData": '{"a": 1}'})
    api.drain()
    assert api.events("u")["events"][0]["eventData"] == {"a": 1}


def test_empty_strings_from_clients_that_send_every_field(api: Harness) -> None:
    api.post("/users", {"userId": "u", "firstName": "A"})
    api.post("/users", {"userId": "u", "anonymousId": "", "firstName": "", "birthDate": "", "gender": "", "phone": ""})
    api.drain()
    assert api.profile("u")["firstName"] == "A"


def test_rudderstack_fixtures(api: Harness) -> None:
    assert api.post("/users", seeds.RUDDER_IDENTIFY).status_code == 201
    assert api.post("/events", seeds.RUDDER_PAGE).status_code == 201
    api.drain()
    profile = api.profile("rudder1236")
    assert profile["country"] == "INDIA" and profile["gender"] == "female"
    assert api.events("user123456001")["events"][0]["anonymousId"] == seeds.RUDDER_PAGE["anonymousId"]
