"""One person, two dialects: a MoEngage customer_id is a WebEngage userId, on the same profile and event stream."""

from __future__ import annotations

from tests.support import moengage_fixtures as fx
from tests.support import seeds
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_success


def test_webengage_user_updated_through_moengage(api: Harness) -> None:
    assert api.post("/users", seeds.USER).status_code == 201
    update = {
        "type": "customer",
        "customer_id": "johndoe",
        "attributes": {
            "first_name": "Johnny",
            "mobile": "+15550001111",
            "Points earned": "lots",  # locked to Number by the WebEngage request
            "Loyalty": "gold",
            "platforms": [{"platform": "web", "active": "true"}],
        },
    }
    assert_success(Moe(api).customer(update))
    api.drain()
    profile = api.profile("johndoe")
    assert profile["firstName"] == "Johnny"
    assert profile["lastName"] == "Doe"
    assert profile["phone"] == "+15550001111"
    assert profile["gender"] == "male" and profile["company"] == "Alphabet Inc."
    assert profile["platforms"] == [{"platform": "web", "active": True}]
    assert profile["attributes"] == {**seeds.USER["attributes"], "Loyalty": "gold"}
    rejections = api.data("/rejections")["rejections"]
    assert [(r["field"], r["reason"]) for r in rejections] == [("attributes.Points earned", "type_conflict")]
    assert api.data("/stats")["users"] == 1


def test_moengage_user_updated_through_webengage(api: Harness) -> None:
    moe = Moe(api)
    created = {"customer_id": "moe-first", "attributes": {"first_name": "Ann", "gender": "Female", "tier": "gold"}}
    assert_success(moe.customer(created))
    update = {"userId": "moe-first", "lastName": "Lee", "emailOptIn": False, "attributes": {"tier": "silver"}}
    assert api.post("/users", update).status_code == 201
    api.drain()
    profile = api.profile("moe-first")
    assert (profile["firstName"], profile["lastName"], profile["gender"]) == ("Ann", "Lee", "female")
    assert profile["emailOptIn"] is False
    assert profile["attributes"] == {"tier": "silver"}
    assert api.data("/stats")["users"] == 1


def test_events_from_both_dialects_share_one_stream(api: Harness) -> None:
    assert api.post("/events", seeds.EVENT).status_code == 201
    moe_event = {
        "type": "event",
        "customer_id": "johndoe",
        "actions": [{"action": "Added to Cart", "attributes": {"Price": 12.5}, "current_time": "2018-09-16T10:00:00Z"}],
    }
    assert_success(Moe(api).event(moe_event))
    api.drain()
    events = api.events("johndoe")["events"]
    assert [(e["eventName"], e["eventTime"]) for e in events] == [
        ("Added to Cart", "2018-09-16T10:00:00Z"),
        ("Added to Cart", seeds.EVENT["eventTime"]),
    ]
    assert events[0]["eventData"] == {"Price": 12.5}
    assert api.data("/stats") == {"users": 1, "anonymousUsers": 0, "events": 2, "pending": 0, "deadLetters": 0}


def test_webengage_user_exported_with_moengage_names(api: Harness) -> None:
    assert api.post("/users", seeds.USER).status_code == 201
    api.drain()
    query = {"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": "johndoe"}]}}
    (user,) = Moe(api).export(query).json()["data"]["users"]
    attributes = user["user_attributes"]
    assert {k: attributes[k] for k in ("customer_id", "first_name", "last_name", "email", "mobile", "gender")} == {
        "customer_id": "johndoe",
        "first_name": "John",
        "last_name": "Doe",
        "email": "john@doe.com",
        "mobile": "+551155256325",
        "gender": "male",
    }
    assert attributes["birthday"] == "1986-08-19T15:45:00-0800"
    assert attributes["company"] == "Alphabet Inc."
    assert attributes["Dollars spent"] == 461.93


def test_moengage_device_for_a_webengage_user(api: Harness) -> None:
    assert api.post("/users", seeds.USER).status_code == 201
    api.drain()
    device = fx.body(fx.RUDDER_DEVICE, customer_id="johndoe")
    assert_success(Moe(api).device(device))
    api.drain()
    (stored,) = api.profile("johndoe")["devices"]
    assert stored["device_id"] == "7e32188a4dab669f" and stored["platform"] == "ANDROID"


def test_moengage_delete_of_a_webengage_user_removes_its_anonymous_ids(api: Harness) -> None:
    assert api.post("/users", {"userId": "both", "anonymousId": "anon-1", "firstName": "B"}).status_code == 201
    api.drain()
    assert api.profile("both")["anonymousIds"] == ["anon-1"]
    assert_success(Moe(api).delete({"identity_type": "customer_id", "identity_value": "both"}))
    api.drain()
    assert api.get("/users/both").status_code == 404
    assert api.get("/anonymous-users/anon-1").status_code == 404
