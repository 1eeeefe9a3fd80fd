"""The seeds' example requests answer 201 queued and read back with every field as sent."""

from __future__ import annotations

from tests.support import seeds
from tests.support.harness import Harness

QUEUED = {"response": {"status": "queued"}}


def test_getting_started_example(api: Harness) -> None:
    r = api.post("/users", seeds.GETTING_STARTED_USER)
    assert r.status_code == 201
    assert r.json() == QUEUED
    api.drain()
    profile = api.profile("johndoe21#")
    assert profile["userId"] == "johndoe21#"
    assert profile["firstName"] == "John"
    assert profile["lastName"] == "Doe"


def test_users_example_reads_back_every_field(api: Harness) -> None:
    assert api.post("/users", seeds.USER).status_code == 201
    api.drain()
    profile = api.profile("johndoe")
    for field, value in seeds.USER.items():
        if field != "attributes":
            assert profile[field] == value, field
    assert profile["attributes"] == seeds.USER["attributes"]
    assert profile["emailOptIn"] is True and profile["smsOptIn"] is True and profile["whatsappOptIn"] is False


def test_events_example_reads_back_every_field(api: Harness) -> None:
    r = api.post("/events", seeds.EVENT)
    assert (r.status_code, r.json()) == (201, QUEUED)
    api.drain()
    events = api.events("johndoe")["events"]
    assert len(events) == 1
    event = events[0]
    assert event["eventName"] == seeds.EVENT["eventName"]
    assert event["eventTime"] == seeds.EVENT["eventTime"]
    assert event["eventData"] == seeds.EVENT["eventData"]
    assert event["userId"] == "johndoe"


def test_bulk_examples(api: Harness) -> None:
    assert (api.post("/bulk-users", seeds.BULK_USERS).json(), api.post("/bulk-events", seeds.BULK_EVENTS).json()) == (
        QUEUED,
        QUEUED,
    )
    api.drain()
    profile = api.profile("johndoe")
    assert profile["attributes"] == seeds.USER["attributes"]
    events = api.events("johndoe")["events"]
    assert len(events) == 2
    assert all(e["eventData"] == seeds.EVENT["eventData"] for e in events)
    stats = api.data("/stats")
    assert stats == {"users": 1, "anonymousUsers": 0, "events": 2, "pending": 0, "deadLetters": 0}
