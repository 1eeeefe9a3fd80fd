"""MoEngage gaps closed in #10: the merge events the vendor adds, `.` in event names as the vendor ingests
them, Delete User and Get User by the MoEngage ID (`moengage_id`, also spelled `id`), on both stores."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_fail, assert_success


def export(moe: Moe, *identifiers: tuple[str, str], fields: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"identifiers": [{"identifier_type": t, "identifier": i} for t, i in identifiers]}
    if fields is not None:
        data["user_fields_to_export"] = fields
    r = moe.export({"data": data})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["data"]
    return result


def moengage_id(moe: Moe, customer_id: str) -> str:
    (user,) = export(moe, ("customer_id", customer_id))["users"]
    value: str = user["user_attributes"]["id"]
    return value


def test_a_merge_adds_moe_user_merge_event_and_moe_user_merged(api: Harness) -> None:
    moe = Moe(api)
    for user in ("old-id", "new-id"):
        assert_success(moe.customer({"customer_id": user}))
    api.drain()
    assert_success(moe.merge({"merge_data": [{"merged_user": "old-id", "retained_user": "new-id"}]}))
    api.drain()
    events = api.events("new-id")["events"]
    assert [(e["eventName"], e["userId"], e["eventData"]) for e in events] == [
        ("MOE_USER_MERGED", "new-id", {"merged_user": "old-id", "retained_user": "new-id"}),
        ("MOE_USER_MERGE_EVENT", "old-id", {"merged_user": "old-id", "retained_user": "new-id"}),
    ]
    assert events[0]["eventTime"] == events[0]["receivedAt"]
    assert api.data("/stats")["events"] == 2
    # A client cannot send them: system events (MoEngage: dropped and recorded; WebEngage: refused, 400).
    assert_success(moe.event({"customer_id": "new-id", "actions": [{"action": "MOE_USER_MERGED"}]}))
    r = api.post("/events", {"userId": "new-id", "eventName": "MOE_USER_MERGE_EVENT"})
    assert r.status_code == 400 and "is a system event" in r.json()["response"]["message"]
    api.drain()
    assert len(api.events("new-id")["events"]) == 2
    assert [r["reason"] for r in api.data("/rejections")["rejections"]] == ["system_event"]


def test_dots_in_event_names_are_followed_by_a_space(api: Harness) -> None:
    moe = Moe(api)
    body = {
        "customer_id": "dotty",
        "actions": [{"action": "cart.item.added", "attributes": {"products[0].brand": "A"}}],
    }
    assert_success(moe.event(body))
    assert api.post("/events", {"userId": "dotty", "eventName": "web.view"}).status_code == 201  # WebEngage: as sent
    api.drain()
    events = api.events("dotty")["events"]
    assert sorted(e["eventName"] for e in events) == ["cart. item. added", "web.view"]
    assert next(e for e in events if e["eventName"] == "cart. item. added")["eventData"] == {"products[0].brand": "A"}
    assert "cart. item. added" in api.data("/schema")["events"]


def test_get_user_by_moengage_id_under_both_names(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": "findme", "attributes": {"first_name": "F"}}))
    api.drain()
    mid = moengage_id(moe, "findme")
    assert len(mid) == 24 and int(mid, 16) > 0
    for kind in ("moengage_id", "id"):
        data = export(moe, (kind, mid), fields=["customer_id", "id", "first_name"])
        assert data == {"users_not_found": [], "users": [{"user_attributes": {"customer_id": "findme", "id": mid,
                                                                               "first_name": "F"}}]}  # fmt: skip
    missing = ["0" * 24, "f" * 24, "not-an-id", mid.upper() + "0"]
    data = export(moe, *[("moengage_id", m) for m in missing], ("id", mid))
    assert data["users_not_found"] == [{"identifier_type": "moengage_id", "identifier": m} for m in missing]
    assert [u["user_attributes"]["customer_id"] for u in data["users"]] == ["findme"]
    assert export(moe, ("id", mid.upper()))["users"][0]["user_attributes"]["id"] == mid  # hex in any case


def test_the_moengage_id_is_new_after_delete_and_kept_by_the_retained_user_of_a_merge(api: Harness) -> None:
    moe = Moe(api)
    for user in ("a", "b"):
        assert_success(moe.customer({"customer_id": user}))
    api.drain()
    first_b = moengage_id(moe, "b")
    assert_success(moe.merge({"merge_data": [{"merged_user": "a", "retained_user": "b"}]}))
    api.drain()
    assert moengage_id(moe, "b") == first_b == moengage_id(moe, "a")  # a resolves to b
    assert_success(moe.delete({"identity_type": "customer_id", "identity_value": "b"}))
    assert_success(moe.customer({"customer_id": "b"}))
    api.drain()
    assert moengage_id(moe, "b") != first_b


def test_delete_user_by_moengage_id_under_both_names(api: Harness) -> None:
    moe = Moe(api)
    for user in ("d1", "d2"):
        assert_success(moe.customer({"customer_id": user}))
        assert_success(moe.event({"customer_id": user, "actions": [{"action": "E"}]}))
    api.drain()
    for kind, user in (("moengage_id", "d1"), ("id", "d2")):
        r = moe.delete({"identity_type": kind, "identity_value": moengage_id(moe, user)})
        assert_success(r)
    api.drain()
    assert api.get("/users/d1").status_code == 404 and api.get("/users/d2").status_code == 404
    assert api.data("/stats")["users"] == 0
    gone = moengage_id.__name__  # any id that names no profile
    for value in ("0" * 24, "abc", gone):
        r = moe.delete({"identity_type": "moengage_id", "identity_value": value})
        assert_fail(r, 400, "Not Found", f"User doesn't exists with moengage id {value}")
    r = moe.delete({"identity_type": "email", "identity_value": "a@b.c"})
    message = "identity_type 'email' is not supported; use one of customer_id, moengage_id, id"
    assert_fail(r, 400, "ValueError", message, "identity_type")


def test_delete_by_moengage_id_of_an_anonymous_profile_is_not_found(api: Harness) -> None:
    """A profile without a customer_id (a WebEngage anonymous user) is no MoEngage user."""
    assert api.post("/users", {"anonymousId": "anon-x"}).status_code == 201
    api.drain()
    found = api.call(api.store.profile, api.creds.account_id, "a", "anon-x")
    assert found is not None
    value = f"{found.id:024x}"
    assert_fail(
        Moe(api).delete({"identity_type": "moengage_id", "identity_value": value}),
        400,
        "Not Found",
        f"User doesn't exists with moengage id {value}",
    )


def test_identity_resolution_forms_are_refused_whole_and_a_customer_id_makes_them_work(api: Harness) -> None:
    """docs/moengage.md, Identity Resolution: workspaces without it; the documented 400 names customer_id."""
    moe = Moe(api)
    ir_user = {"type": "customer", "attributes": {"moe_mobile": "+919876543210", "first_name": "John"}}
    ir_event = {"type": "event", "user_identifiers": {"moe_mobile": "+919876543210"}, "actions": [{"action": "E"}]}
    for r in (moe.customer(ir_user), moe.event(ir_event), moe.bulk({"type": "transition", "elements": [ir_user]})):
        error = assert_fail(r, 400, "MissingAttributeError", "…", "customer_id")
        assert error["message"].endswith("customer_id is not found in the payload")  # bulk: `elements[0]: …`
    api.drain()
    assert api.data("/stats") == {"users": 0, "anonymousUsers": 0, "events": 0, "pending": 0, "deadLetters": 0}
    assert_success(moe.customer(ir_user | {"customer_id": "john"}))
    api.drain()
    profile = api.profile("john")
    assert profile["firstName"] == "John" and profile["attributes"] == {"moe_mobile": "+919876543210"}
