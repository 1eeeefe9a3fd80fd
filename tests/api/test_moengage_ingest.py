"""Track User, Track Event, Track Device and Bulk Import end to end: the documented examples and public
clients' bodies answer 200 and read back through the read API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import moengage_fixtures as fx
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_success

pytestmark = pytest.mark.usefixtures("steady_rate_window")


def rejections(api: Harness) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.data("/rejections")["rejections"]
    return items


def reasons(api: Harness) -> set[tuple[str, str]]:
    return {(r["field"], r["reason"]) for r in rejections(api)}


# ---------------------------------------------------------------- Track User


def test_seed_user_example(api: Harness) -> None:
    r = Moe(api).customer(fx.SEED_USER)
    assert_success(r)
    assert r.headers["x-ratelimit-limit"] == "10000" and r.headers["x-ratelimit-remaining"] == "9999"
    api.drain()
    profile = api.profile("USERID1234")
    assert profile["userId"] == "USERID1234"
    assert profile["firstName"] == "John"
    assert profile["name"] == "John Smith"
    assert profile["platforms"] == [{"platform": "ANDROID", "active": True}]
    assert profile["attributes"] == {
        "plan_expiry_date": "2020-05-31T00:00:00Z",
        "super_user": True,
        "user_persona": "browsers",
    }
    schema = api.data("/schema")["users"]
    assert schema["plan_expiry_date"]["type"] == "Date"
    assert schema["super_user"]["type"] == "Boolean"


def test_update_existing_only_does_not_create_a_user(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer(fx.USER_EXISTING_ONLY))
    api.drain()
    assert api.get("/users/john@example.com").status_code == 404
    assert ("customer_id", "user_not_found") in reasons(api)
    assert_success(moe.customer(fx.USER))
    assert_success(moe.customer(fx.USER_EXISTING_ONLY))
    api.drain()
    profile = api.profile("john@example.com")
    assert profile["name"] == "JohnDoe"
    assert profile["attributes"]["points"] == 20
    assert profile["attributes"]["expiry_date"] == "2020-05-31T03:47:35Z"


def test_array_operators(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer(fx.USER_ARRAY_OPS))
    remove = {"customer_id": "123", "attributes": {"removeValueFromArrayField": {"attribute1": ["abc"]}}}
    add = {"customer_id": "123", "attributes": {"addValueToArrayField": {"attribute1": ["ghi", "def"]}}}
    assert_success(moe.customer(remove))
    assert_success(moe.customer(add))
    api.drain()
    profile = api.profile("123")
    assert profile["attributes"] == {"attribute1": ["def", "ghi"], "attribute2": ["a"], "attribute3": ["123"]}
    assert profile["platforms"] == [{"platform": "iOS", "active": True}]


def test_add_to_a_non_array_attribute_is_a_type_conflict(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": "u1", "attributes": {"tier": "gold"}}))
    assert_success(moe.customer({"customer_id": "u1", "attributes": {"addValueToArrayField": {"tier": ["x"]}}}))
    api.drain()
    assert api.profile("u1")["attributes"] == {"tier": "gold"}
    assert ("addValueToArrayField.tier", "type_conflict") in reasons(api)


def test_unset_attributes_removes_custom_attributes_only(api: Harness) -> None:
    moe = Moe(api)
    created = {"customer_id": "user123", "attributes": {"first_name": "Ann", "temp_a": 1, "TEMP_b": "x", "keep": True}}
    assert_success(moe.customer(created))
    assert_success(moe.customer(fx.USER_UNSET))
    api.drain()
    profile = api.profile("user123")
    assert profile["firstName"] == "Ann"  # a standard attribute cannot be unset
    assert profile["attributes"] == {"TEMP_b": "x", "keep": True}  # prefix rule is case-sensitive by default


def test_rudder_identify_with_flattened_keys(api: Harness) -> None:
    assert_success(Moe(api).customer(fx.RUDDER_IDENTIFY))
    api.drain()
    profile = api.profile("rudder123")
    assert profile["name"] == "Rudder Test"
    assert profile["email"] == "rudderTest@gmail.com"
    assert profile["attributes"] == {
        "plan": "Enterprise",
        "createdAt": "Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)",
        "company.id": "abc123",
        "created_time": "Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)",
    }
    assert api.data("/schema")["users"]["created_time"]["type"] == "String"


def test_rudder_identify_with_object_data(api: Harness) -> None:
    assert_success(Moe(api).customer(fx.RUDDER_IDENTIFY_OBJECTS))
    api.drain()
    attributes = api.profile("rudder123")["attributes"]
    assert attributes == {"company": {"id": "abc123"}, "address": {"city": "San Francisco", "country": "USA"}}


def test_python_wrapper_and_java_bulk_bodies(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer(fx.PYM_USER))
    assert_success(moe.event(fx.PYM_EVENT))
    assert_success(moe.bulk(fx.JBULK))
    api.drain()
    pym = api.profile("pym-1")
    assert (pym["name"], pym["phone"], pym["email"], pym["attributes"]) == (
        "Py Moe",
        "918888444411",
        "py@moe.test",
        {"plan": "gold"},
    )
    (event,) = api.events("pym-1")["events"]
    assert event["eventName"] == "Logged In" and event["eventData"] == {"via": "otp"}
    jb = api.profile("jb-1")
    assert (jb["firstName"], jb["lastName"], jb["gender"], jb["phone"]) == ("Jay", "Bee", "male", "+919999000011")
    assert jb["attributes"] == {"age": 41}


def test_custom_attributes_follow_the_shared_data_quality_rules(api: Harness) -> None:
    moe = Moe(api)
    long_name = "n" * 50
    assert_success(moe.customer({"customer_id": "q", "attributes": {"score": 1, long_name: 1, "we_x": 1, "id": 9}}))
    assert_success(moe.customer({"customer_id": "q", "attributes": {"score": "high", "note": "y" * 1200}}))
    api.drain()
    attributes = api.profile("q")["attributes"]
    assert attributes["score"] == 1
    assert len(attributes["note"]) == 999
    assert long_name not in attributes and "we_x" not in attributes and "id" not in attributes
    assert {
        ("attributes.score", "type_conflict"),
        (f"attributes.{long_name}", "name_too_long"),
        ("attributes.we_x", "reserved_prefix"),
        ("attributes.note", "truncated"),
        ("id", "reserved_name"),
    } <= reasons(api)


# ---------------------------------------------------------------- Track Event


def test_event_with_millisecond_strings(api: Harness) -> None:
    assert_success(Moe(api).event(fx.EVENT_MS_STRINGS))
    api.drain()
    (event,) = api.events("123")["events"]
    assert event["eventName"] == "ProductAdded"
    assert event["eventTime"] == "2024-02-26T09:24:13+0000"
    assert event["eventData"] == {"product": "Accessories", "color": "Black", "Brand": "Adidas"}
    assert event["context"] == {"platform": "ANDROID", "app_version": "1.2.3", "user_time": "1708939453396"}


def test_event_with_epoch_seconds(api: Harness) -> None:
    r = Moe(api).event(fx.EVENT_EPOCH_SECONDS)
    assert_success(r)
    assert r.headers["x-ratelimit-limit"] == "30000" and r.headers["x-ratelimit-remaining"] == "29999"
    api.drain()
    (event,) = api.events("john@example.com")["events"]
    assert event["eventTime"] == "2015-06-09T08:19:29+0000"
    assert event["eventData"] == {"price": 3999, "departure_date": "2019-05-21T03:47:35Z", "premium_seat": True}
    assert event["context"]["user_timezone_offset"] == 19800
    assert api.data("/schema")["events"]["Flight Booked"]["departure_date"]["type"] == "Date"


def test_rudder_track(api: Harness) -> None:
    assert_success(Moe(api).event(fx.RUDDER_TRACK))
    api.drain()
    (event,) = api.events("rudder123")["events"]
    assert event["eventTime"] == "2020-10-16T13:40:12.791+05:30"
    assert event["eventData"]["products[0].category"] == "Merch"
    assert event["context"] == {"platform": "web", "app_version": "1.1.6", "user_timezone_offset": 19800}
    assert api.profile("rudder123")["firstSeen"] == "2020-10-16T08:10:12+0000"


def test_several_actions_are_several_events(api: Harness) -> None:
    payload = {
        "type": "event",
        "customer_id": "multi",
        "actions": [
            {"action": "A", "current_time": 1_600_000_000},
            {"action": "B", "current_time": 1_600_000_060},
            {"action": "C", "current_time": "2020-09-13T12:28:20Z"},
        ],
    }
    r = Moe(api).event(payload)
    assert_success(r)
    assert r.headers["x-ratelimit-remaining"] == "29997"
    api.drain()
    assert [e["eventName"] for e in api.events("multi")["events"]] == ["C", "B", "A"]
    assert api.data("/stats")["events"] == 3


def test_event_attribute_types_lock_per_event_name(api: Harness) -> None:
    moe = Moe(api)
    for price in (10, "ten"):
        body = {"customer_id": "t", "actions": [{"action": "Buy", "attributes": {"price": price}}]}
        assert_success(moe.event(body))
    api.drain()
    events = api.events("t")["events"]
    assert sorted(str(e["eventData"]) for e in events) == ["{'price': 10}", "{}"]
    assert ("eventData.price", "type_conflict") in reasons(api)


# ---------------------------------------------------------------- Track Device


def test_device_for_an_unknown_user_is_not_stored(api: Harness) -> None:
    assert_success(Moe(api).device(fx.DEVICE))
    api.drain()
    assert api.get("/users/john@example.com").status_code == 404
    assert ("customer_id", "user_not_found") in reasons(api)


def test_device_example_reads_back_in_the_profile(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer(fx.USER))
    api.drain()
    assert_success(moe.device(fx.DEVICE))
    api.drain()
    (device,) = api.profile("john@example.com")["devices"]
    assert device == {
        "device_id": "96bd03b6-defc-4203-83d3-dc1c73080232",
        "platform": "iOS",
        "model": "iPhone",
        "push_preference": True,
        "push_id": "irBMohQPf_k2QrwP8iRzK3A/0CdLEzAoVGdF65HhH_I",
        "app_version": "10.1",
        "os_version": "2.5.4",
        "active": True,
        "created_time": 143383676,
    }


def test_rudder_identify_then_device(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer(fx.RUDDER_IDENTIFY))
    assert_success(moe.device(fx.RUDDER_DEVICE))
    api.drain()
    (device,) = api.profile("rudder123")["devices"]
    assert device["platform"] == "ANDROID" and device["push_id"] == "desuhere"
    assert device["model"] == "Android SDK built for x86" and device["device_id"] == "7e32188a4dab669f"


def test_device_rules_platform_ids_and_duplicates(api: Harness) -> None:
    moe = Moe(api)
    assert_success(moe.customer({"customer_id": "d"}))
    ios = {"platform": "iOS", "push_id": "p1", "moe_gaid": "gaid", "idfv": "idfv-1", "color": "red"}
    assert_success(moe.device({"customer_id": "d", "device_id": "one", "attributes": ios}))
    android = {"platform": "ANDROID", "push_id": "p1", "moe_gaid": "gaid-2", "moe_push_opted": "False"}
    assert_success(moe.device({"customer_id": "d", "device_id": "two", "attributes": android}))
    api.drain()
    (device,) = api.profile("d")["devices"]  # the same push id replaced device "one"
    assert device == {
        "device_id": "two",
        "platform": "ANDROID",
        "push_id": "p1",
        "moe_gaid": "gaid-2",
        "moe_push_opted": False,
    }
    assert {("attributes.moe_gaid", "platform_mismatch"), ("attributes.color", "unknown_field")} <= reasons(api)


# ---------------------------------------------------------------- Bulk Import


def test_bulk_example(api: Harness) -> None:
    r = Moe(api).bulk(fx.BULK)
    assert_success(r)
    assert r.headers["x-ratelimit-limit"] == "30000" and r.headers["x-ratelimit-remaining"] == "29998"
    api.drain()
    profile = api.profile("john@example.com")
    assert profile["name"] == "John"
    assert profile["platforms"] == [{"platform": "ANDROID", "active": True}]
    (device,) = profile["devices"]
    assert device["brand"] == "Apple" and device["platform"] == "iOS"
    events = api.events("john@example.com")["events"]
    assert [(e["eventName"], e["eventTime"]) for e in events] == [
        ("Added to Cart", "2020-05-31T16:33:35Z"),
        ("Purchase", "2020-05-25T11:03:35+0000"),
    ]
    assert all(e["context"]["device_id"] == "96bd03b6-defc-4203-83d3-dc1c73080232" for e in events)
    assert api.data("/stats") == {"users": 1, "anonymousUsers": 0, "events": 2, "pending": 0, "deadLetters": 0}


def test_app_id_as_query_parameter_and_in_both_places(api: Harness) -> None:
    moe = Moe(api)
    app = api.creds.app_id
    assert_success(moe.post("/v1/customer", fx.USER, params={"app_id": app}))
    assert_success(moe.post(f"/v1/device/{app}", fx.DEVICE, params={"app_id": app}))
    assert_success(moe.post(f"/v1/transition/{app}", fx.BULK, params={"app_id": app}))
    assert_success(moe.post("/v1/event", fx.EVENT_EPOCH_SECONDS, params={"app_id": app}))
    api.drain()
    assert len(api.events("john@example.com")["events"]) == 3
