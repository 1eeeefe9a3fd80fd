"""Merge Users, Delete User and Get User (export) end to end."""

from __future__ import annotations

from typing import Any

from tests.support import moengage_fixtures as fx
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_fail, assert_success

MERGED = "4eb021e9-a2af-4926-ae82-fe996d12f3c5"
RETAINED = "12345"


def event(user: str, name: str, at: int) -> dict[str, Any]:
    return {"type": "event", "customer_id": user, "actions": [{"action": name, "current_time": at}]}


# ---------------------------------------------------------------- Merge


def test_rudder_merge_moves_data_and_events_and_is_in_the_ledger(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": MERGED, "attributes": {"first_name": "Anon", "plan": "gold", "x": 1}}))
    assert_success(moe.customer({"customer_id": RETAINED, "attributes": {"first_name": "Kept", "plan": "silver"}}))
    assert_success(
        moe.device({"customer_id": MERGED, "device_id": "dev", "attributes": {"platform": "web", "push_id": "p"}})
    )
    assert_success(moe.event(event(MERGED, "Browsed", 1_600_000_000)))
    assert_success(moe.event(event(RETAINED, "Bought", 1_600_000_100)))
    api.drain()
    r = moe.merge(fx.RUDDER_MERGE, headers=moe.headers(appkey=False))  # rudder-transformer drops MOE-APPKEY here
    data = assert_success(r)
    assert data["operation"] == "created"
    api.drain()
    profile = api.profile(RETAINED)
    assert profile["firstName"] == "Kept"
    assert profile["attributes"] == {"plan": "silver", "x": 1}
    assert [d["device_id"] for d in profile["devices"]] == ["dev"]
    events = api.events(RETAINED)["events"]
    # Newest first: the merge events the vendor adds (#10), then both users' events.
    assert [e["eventName"] for e in events] == ["MOE_USER_MERGED", "MOE_USER_MERGE_EVENT", "Bought", "Browsed"]
    assert [e["userId"] for e in events[:2]] == [RETAINED, MERGED]
    assert events[0]["eventData"] == {"merged_user": MERGED, "retained_user": RETAINED}
    # the merged user's id now resolves to the retained profile
    assert api.profile(MERGED)["userId"] == RETAINED
    (ledger,) = api.data("/merges")["merges"]
    assert (ledger["kind"], ledger["mergedUser"], ledger["userId"]) == ("merge", MERGED, RETAINED)
    assert api.data("/stats")["users"] == 1


def test_merge_pairs_with_unknown_users_are_skipped(api: Harness) -> None:
    moe = Moe(api)
    for user in ("a", "b", "c"):
        assert_success(moe.customer({"customer_id": user}))
    api.drain()
    pairs = [{"merged_user": "ghost", "retained_user": "a"}, {"merged_user": "b", "retained_user": "c"}]
    assert_success(moe.merge({"merge_data": pairs}))
    api.drain()
    assert api.profile("b")["userId"] == "c"
    assert api.profile("a")["userId"] == "a"
    assert [(r["field"], r["reason"]) for r in api.data("/rejections")["rejections"]] == [
        ("merged_user", "user_not_found")
    ]


def test_merge_limit(api: Harness) -> None:
    pairs = [{"merged_user": f"m{i}", "retained_user": "r"} for i in range(51)]
    assert_fail(Moe(api).merge({"merge_data": pairs}), 400, "LimitBreached", "max limit allowed is 50", "merge_data")
    assert_success(Moe(api).merge({"merge_data": pairs[:50]}))


# ---------------------------------------------------------------- Delete


def test_delete_removes_profile_identity_and_devices_and_keeps_events(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": "gone", "attributes": {"first_name": "Old", "secret": 1}}))
    assert_success(
        moe.device({"customer_id": "gone", "device_id": "d", "attributes": {"platform": "iOS", "push_id": "p"}})
    )
    assert_success(moe.event(event("gone", "Old Event", 1_600_000_000)))
    api.drain()
    assert_success(moe.delete({"identity_type": "customer_id", "identity_value": "gone"}))
    api.drain()
    assert api.get("/users/gone").status_code == 404
    assert api.data("/stats") == {"users": 0, "anonymousUsers": 0, "events": 1, "pending": 0, "deadLetters": 0}
    # A re-created user is a new profile: no old attributes, devices or events.
    assert_success(moe.customer({"customer_id": "gone", "attributes": {"first_name": "New"}}))
    api.drain()
    profile = api.profile("gone")
    assert profile["firstName"] == "New" and profile["attributes"] == {} and "devices" not in profile
    assert api.events("gone")["events"] == []
    r = moe.export({"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": "gone"}]}})
    assert "secret" not in r.json()["data"]["users"][0]["user_attributes"]


def test_delete_of_an_unknown_user_is_the_documented_400(api: Harness) -> None:
    r = Moe(api).delete(fx.DELETE)
    error = assert_fail(r, 400, "Not Found", "User doesn't exists with customer id 6416d1a318r98264512c0f89")
    assert "attribute" not in error
    api.drain()
    assert api.data("/stats")["pending"] == 0


def test_delete_right_after_create_is_accepted_while_the_create_is_pending(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": "fresh"}))
    assert_success(moe.delete({"identity_type": "customer_id", "identity_value": "fresh"}))
    api.drain()
    assert api.get("/users/fresh").status_code == 404


# ---------------------------------------------------------------- Get User


def test_export_example(api: Harness) -> None:
    moe = Moe(api)
    attributes = {"name": "John", "last_name": "Doe", "mobile": "918888444411", "custom_user_attr": 12345}
    assert_success(moe.customer({"customer_id": "john_doe", "attributes": attributes}))
    api.drain()
    r = moe.export(fx.EXPORT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["type"]) == ("success", "export_users")
    assert body["data"] == {
        "users_not_found": [],
        "users": [{"user_attributes": {"customer_id": "john_doe", "name": "John", "last_name": "Doe"}}],
    }


def test_export_every_field_and_users_not_found(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer(fx.PYM_USER))
    api.drain()
    query = {
        "data": {
            "identifiers": [
                {"identifier_type": "customer_id", "identifier": "pym-1"},
                {"identifier_type": "customer_id", "identifier": "john_doe"},
            ]
        }
    }
    data = moe.export(query).json()["data"]
    assert data["users_not_found"] == [{"identifier_type": "customer_id", "identifier": "john_doe"}]
    (user,) = data["users"]
    attributes = user["user_attributes"]
    assert {k: attributes[k] for k in ("customer_id", "name", "mobile", "email", "plan")} == {
        "customer_id": "pym-1",
        "name": "Py Moe",
        "mobile": "918888444411",
        "email": "py@moe.test",
        "plan": "gold",
    }
    assert set(attributes) == {"customer_id", "id", "name", "mobile", "email", "plan", "first_seen", "last_seen"}
    assert len(attributes["id"]) == 24  # the MoEngage ID (#10)


def test_export_is_a_read_and_is_not_queued(api: Harness) -> None:
    r = Moe(api).export(fx.EXPORT)
    assert r.json()["data"] == {
        "users_not_found": [{"identifier_type": "customer_id", "identifier": "john_doe"}],
        "users": [],
    }
    assert api.data("/stats")["pending"] == 0
