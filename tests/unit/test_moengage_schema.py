"""MoEngage request validation (pure): vendor JSON in, internal records or the documented error out."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest

from openengage.accounts import Account, hash_key
from openengage.api import moengage_schema as schema
from openengage.api.moengage import basic_credentials, check_account
from openengage.api.moengage_errors import Invalid
from openengage.records import DeviceRecord, Drop, EventRecord, MergeRecord, UnsetRule, UserRecord
from openengage.rules.dates import parse_iso
from tests.support import moengage_fixtures as fx


def refused(fn: Any, *args: Any) -> Invalid:
    with pytest.raises(Invalid) as info:
        fn(*args)
    return info.value


# ---------------------------------------------------------------- body


@pytest.mark.parametrize(
    ("raw", "error_type", "message"),
    [
        (b"", "Empty request body", "A valid JSON document is required"),
        (b"  \n", "Empty request body", "A valid JSON document is required"),
        (b"{", "Malformed JSON", "Could not decode the request body. The JSON was incorrect or not encoded as UTF-8."),
        (b'{"a":"\xff"}', "Malformed JSON", "Could not decode the request body. …"),
        (b'"a string payload"', "Body type is not JSON", "A valid JSON document is required."),
        (b"[1, 2]", "Body type is not JSON", "A valid JSON document is required."),
    ],
)
def test_decode_body_refusals(raw: bytes, error_type: str, message: str) -> None:
    exc = refused(schema.decode_body, raw)
    assert (exc.status, exc.type) == (400, error_type)
    assert exc.message.startswith(message.removesuffix("…"))


# ---------------------------------------------------------------- Basic auth


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_basic_credentials() -> None:
    assert basic_credentials(_basic(b"APPID:se:cret")) == ("APPID", "se:cret")
    assert basic_credentials("basic " + base64.b64encode(b"A:b").decode()) == ("A", "b")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authentication Header Required"),
        ("", "No identity information found"),
        ("Basic ", "No identity information found"),
        ("Bearer abc", "Invalid authorization used. MoEngage only supports 'Basic Auth' authorization."),
        ("Basic !!notbase64!!", "Invalid identity information found"),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "Invalid identity information found"),
        (_basic(b"no-colon"), "Invalid identity information found"),
        (_basic(b":secret"), "APP_KEY missing in the authentication header"),
        (_basic(b"APPID:"), "APP_SECRET missing in the authentication header"),
    ],
)
def test_basic_credentials_refusals(header: str | None, message: str) -> None:
    exc = refused(basic_credentials, header)
    assert (exc.status, exc.type, exc.message) == (401, "Authentication required", message)


# ---------------------------------------------------------------- customer_id


@pytest.mark.parametrize("value", ["unknown", "NULL", "Guest", "0", "-1", "n/a", "(empty)", " none ", "customer_id"])
def test_blocked_customer_ids(value: str) -> None:
    exc = refused(schema.customer_id, value)
    assert (exc.type, exc.attribute) == ("ValueError", "customer_id")
    assert "blocked placeholder" in exc.message


@pytest.mark.parametrize(
    ("value", "error_type", "message"),
    [
        (None, "MissingAttributeError", "customer_id is not found in the payload"),
        ("", "MissingAttributeError", "customer_id can not be empty Unicode String"),
        ("   ", "MissingAttributeError", "customer_id can not be empty Unicode String"),
        (123, "MissingAttributeError", "customer_id is expected to be String or Unicode String"),
        ("x" * 101, "ValueError", "customer_id can be of maximum 100 characters (got 101)"),
    ],
)
def test_customer_id_refusals(value: Any, error_type: str, message: str) -> None:
    exc = refused(schema.customer_id, value)
    assert (exc.type, exc.message, exc.attribute) == (error_type, message, "customer_id")


def test_customer_id_accepts_ordinary_ids() -> None:
    for value in ("USERID1234", "john@example.com", "a", "3", "x" * 100, "unknown-user"):
        assert schema.customer_id(value) == value


# ---------------------------------------------------------------- Track User


def test_seed_user_maps_standard_attributes_and_platforms() -> None:
    record = schema.parse_customer(fx.SEED_USER)
    assert record == UserRecord(
        user_id="USERID1234",
        system={"firstName": "John", "name": "John Smith", "platforms": [{"platform": "ANDROID", "active": True}]},
        attributes={"plan_expiry_date": "2020-05-31T00:00:00Z", "super_user": True, "user_persona": "browsers"},
    )


def test_standard_attribute_table() -> None:
    attributes = {
        "name": "Jay Bee",
        "first_name": "Jay",
        "last_name": "Bee",
        "email": "jay@bee.test",
        "mobile": 918888444411,
        "gender": "Male",
        "birthday": "1986-08-19",
        "moe_unsubscribe": "true",
        "moe_wa_subscription": True,
        "age": 41,
    }
    record = schema.parse_customer({"customer_id": "jb", "attributes": attributes})
    assert record.system == {
        "name": "Jay Bee",
        "firstName": "Jay",
        "lastName": "Bee",
        "email": "jay@bee.test",
        "phone": "918888444411",
        "gender": "male",
        "birthDate": "1986-08-19",
        "emailOptIn": False,
        "whatsappOptIn": True,
    }
    assert record.attributes == {"age": 41}


def test_internal_standard_keys_are_accepted_as_input() -> None:
    record = schema.parse_customer(
        {
            "customer_id": "u",
            "attributes": {"u_fn": "A", "u_ln": "B", "u_em": "a@b.c", "u_mb": "1", "u_bd": "2000-01-02"},
        }
    )
    assert record.system == {
        "firstName": "A",
        "lastName": "B",
        "email": "a@b.c",
        "phone": "1",
        "birthDate": "2000-01-02",
    }


def test_unusable_standard_values_are_dropped_and_recorded() -> None:
    record = schema.parse_customer({"customer_id": "u", "attributes": {"gender": "robot", "birthday": "someday"}})
    assert record.system == {}
    assert record.dropped == [Drop("gender", "invalid_value", "robot"), Drop("birthday", "invalid_value", "someday")]


def test_standard_attribute_of_wrong_type_is_refused() -> None:
    exc = refused(schema.parse_customer, {"customer_id": "u", "attributes": {"first_name": 7}})
    assert (exc.type, exc.message, exc.attribute) == (
        "MissingAttributeError",
        "first_name is expected to be String",
        "first_name",
    )


def test_flattened_keys_are_ordinary_attribute_names() -> None:
    record = schema.parse_customer(fx.RUDDER_IDENTIFY)
    assert record.system == {"name": "Rudder Test", "email": "rudderTest@gmail.com"}
    assert record.attributes["company.id"] == "abc123"
    assert record.attributes["created_time"] == "Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)"


def test_blocked_attribute_names_and_unknown_fields_are_recorded() -> None:
    record = schema.parse_customer({"customer_id": "u", "extra": 1, "attributes": {"id": 5, "_id": 6, "ok": 7}})
    assert record.attributes == {"ok": 7}
    assert record.dropped == [
        Drop("extra", "unknown_field", 1),
        Drop("id", "reserved_name", 5),
        Drop("_id", "reserved_name", 6),
    ]


def test_update_existing_only() -> None:
    assert schema.parse_customer(fx.USER_EXISTING_ONLY).update_existing_only is True
    assert schema.parse_customer(fx.body(fx.USER, update_existing_only="false")).update_existing_only is False
    exc = refused(schema.parse_customer, fx.body(fx.USER, update_existing_only="maybe"))
    assert exc.message == "update_existing_only is expected to be Boolean"


def test_platforms_top_level_or_in_attributes_lowercase_and_bool() -> None:
    record = schema.parse_customer(
        {
            "customer_id": "u",
            "platforms": [{"platform": "android", "active": "false"}],
            "attributes": {"platforms": [{"platform": "IOS", "active": True}, {"platform": "web"}]},
        }
    )
    assert record.system["platforms"] == [
        {"platform": "ANDROID", "active": False},
        {"platform": "iOS", "active": True},
        {"platform": "web", "active": True},
    ]


@pytest.mark.parametrize(
    "platforms",
    [[{"platform": "Windows", "active": "true"}], [{"active": "true"}], ["ANDROID"], {"platform": "ANDROID"}],
)
def test_invalid_platforms_are_refused(platforms: Any) -> None:
    exc = refused(schema.parse_customer, {"customer_id": "u", "attributes": {"platforms": platforms}})
    assert exc.attribute == "platforms"


def test_array_operators() -> None:
    record = schema.parse_customer(fx.USER_ARRAY_OPS)
    assert record.add_to_array == {"attribute1": ["abc", "def"], "attribute2": ["a"], "attribute3": ["123"]}
    assert record.remove_from_array == {}
    assert record.attributes == {}
    assert record.system == {"platforms": [{"platform": "iOS", "active": True}]}


@pytest.mark.parametrize(
    ("attributes", "attribute", "message"),
    [
        (
            {"addValueToArrayField": {"tags": ["a"]}, "removeValueFromArrayField": {"tags": ["b"]}},
            "addValueToArrayField",
            "Cannot add and remove 'tags' at the same time",
        ),
        (
            {"tags": ["x"], "removeValueFromArrayField": {"tags": ["b"]}},
            "removeValueFromArrayField",
            "Cannot set and add/remove 'tags' at the same time",
        ),
        (
            {"addValueToArrayField": {"platforms": ["a"]}},
            "addValueToArrayField",
            "Cannot add or remove values of the reserved attribute 'platforms'",
        ),
        (
            {"addValueToArrayField": {"first_name": ["a"]}},
            "addValueToArrayField",
            "Cannot add or remove values of the reserved attribute 'first_name'",
        ),
        (
            {"addValueToArrayField": {"tags": "a"}},
            "addValueToArrayField",
            "addValueToArrayField values are expected to be Array ('tags')",
        ),
    ],
)
def test_array_field_errors(attributes: dict[str, Any], attribute: str, message: str) -> None:
    exc = refused(schema.parse_customer, {"customer_id": "u", "attributes": attributes})
    assert (exc.status, exc.type, exc.attribute, exc.message) == (400, "ArrayFieldError", attribute, message)


def test_unset_attributes() -> None:
    record = schema.parse_customer(fx.USER_UNSET)
    assert record.unset == [UnsetRule("equals", "first_name", False), UnsetRule("prefix", "temp_", True)]
    single = schema.parse_customer({"customer_id": "u", "unset_attributes": {"type": "suffix", "attr": "_old"}})
    assert single.unset == [UnsetRule("suffix", "_old", True)]
    exc = refused(schema.parse_customer, {"customer_id": "u", "unset_attributes": [{"type": "regex", "attr": "x"}]})
    assert exc.attribute == "unset_attributes"


def test_type_must_match_when_sent() -> None:
    exc = refused(schema.parse_customer, fx.body(fx.USER, type="Customer"))
    assert (exc.type, exc.message, exc.attribute) == ("AttributeError", "type should be customer", "type")
    assert schema.parse_customer(fx.body(fx.USER, type=None)).user_id == "john@example.com"


def test_identity_resolution_form_needs_customer_id() -> None:
    exc = refused(schema.parse_customer, fx.USER_IDENTITY_RESOLUTION)
    assert exc.message == "customer_id is not found in the payload"


# ---------------------------------------------------------------- Track Event


def test_event_with_millisecond_strings() -> None:
    (record,) = schema.parse_event(fx.EVENT_MS_STRINGS)
    assert record.name == "ProductAdded" and record.user_id == "123"
    assert record.time_ms == 1708939453396 and record.time_text is None
    assert record.data == {"product": "Accessories", "color": "Black", "Brand": "Adidas"}
    assert record.context == {"platform": "ANDROID", "app_version": "1.2.3", "user_time": "1708939453396"}


def test_event_with_epoch_seconds_and_offset() -> None:
    (record,) = schema.parse_event(fx.EVENT_EPOCH_SECONDS)
    assert record.time_ms == 1433837969000
    assert record.context == {"platform": "iOS", "app_version": "1.2.3", "user_timezone_offset": 19800}


def test_rudder_event_keeps_iso_time_with_millis_and_offset() -> None:
    (record,) = schema.parse_event(fx.RUDDER_TRACK)
    assert record.time_ms == parse_iso("2020-10-16T08:10:12.791Z")
    assert record.time_text == "2020-10-16T13:40:12.791+05:30"
    assert record.data["products[0].category"] == "Merch"
    assert record.context["platform"] == "web"


@pytest.mark.parametrize(
    ("action", "expected_ms"),
    [
        ({"user_time": "2020-01-01T05:30:00", "user_timezone_offset": 19800}, parse_iso("2020-01-01T00:00:00Z")),
        ({"user_time": 1577836800 + 19800, "user_timezone_offset": 19800}, 1577836800000),
        ({"user_time": "2020-01-01T05:30:00+05:30", "user_timezone_offset": 19800}, parse_iso("2020-01-01T00:00:00Z")),
        ({"user_time": "1577836800000"}, 1577836800000),
        ({"current_time": "1577836800.5"}, 1577836800500),
        ({"current_time": 1577836800000, "user_time": 1}, 1577836800000),
        ({}, None),
    ],
)
def test_event_time_rules(action: dict[str, Any], expected_ms: int | None) -> None:
    (record,) = schema.parse_event({"customer_id": "u", "actions": [{"action": "A", **action}]})
    assert record.time_ms == expected_ms


def test_event_several_actions_record_unknown_fields_once() -> None:
    records = schema.parse_event(
        {
            "customer_id": "u",
            "device_id": "d1",
            "user_identifiers": {},
            "actions": [{"action": "A"}, {"action": "B", "x": 1}],
        }
    )
    assert [r.name for r in records] == ["A", "B"]
    assert records[0].dropped == [Drop("user_identifiers", "unknown_field", {})]
    assert records[1].dropped == [Drop("x", "unknown_field", 1)]
    assert all(r.context["device_id"] == "d1" for r in records)


@pytest.mark.parametrize(
    ("payload", "error_type", "message", "attribute"),
    [
        ({"customer_id": "u"}, "MissingAttributeError", "actions is not found in the payload", "actions"),
        ({"customer_id": "u", "actions": []}, "MissingAttributeError", "actions can not be empty Array", "actions"),
        ({"customer_id": "u", "actions": {}}, "MissingAttributeError", "actions is expected to be Array", "actions"),
        (
            {"customer_id": "u", "actions": [{}]},
            "MissingAttributeError",
            "action is not found in the payload",
            "action",
        ),
        (
            {"customer_id": "u", "actions": [{"action": 5}]},
            "Malformed JSON",
            "action is expected to be String",
            "action",
        ),
        (
            {"customer_id": "u", "actions": [{"action": ""}]},
            "MissingAttributeError",
            "action can not be empty Unicode String",
            "action",
        ),
        (
            {"customer_id": "u", "actions": [{"action": "A", "attributes": []}]},
            "MissingAttributeError",
            "attributes is expected to be JSON Object",
            "attributes",
        ),
        (
            {"customer_id": "u", "actions": [{"action": "A", "current_time": "yesterday"}]},
            "MissingAttributeError",
            "current_time is expected to be an ISO 8601 date-time or epoch seconds or milliseconds",
            "current_time",
        ),
        (
            {"customer_id": "u", "actions": [{"action": "A", "user_timezone_offset": 60000}]},
            "ValueError",
            "user_timezone_offset must be between -54000 and 54000 seconds",
            "user_timezone_offset",
        ),
        (
            {"actions": [{"action": "A"}]},
            "MissingAttributeError",
            "customer_id is not found in the payload",
            "customer_id",
        ),
        (
            {"type": "Event", "customer_id": "u", "actions": [{"action": "A"}]},
            "AttributeError",
            "type should be event",
            "type",
        ),
    ],
)
def test_event_refusals(payload: dict[str, Any], error_type: str, message: str, attribute: str) -> None:
    exc = refused(schema.parse_event, payload)
    assert (exc.status, exc.type, exc.message, exc.attribute) == (400, error_type, message, attribute)


# ---------------------------------------------------------------- Track Device


def test_device_example() -> None:
    record = schema.parse_device(fx.DEVICE)
    assert record == DeviceRecord(
        user_id="john@example.com",
        device_id="96bd03b6-defc-4203-83d3-dc1c73080232",
        attributes={
            "platform": "iOS",
            "model": "iPhone",
            "push_preference": True,
            "push_id": "irBMohQPf_k2QrwP8iRzK3A/0CdLEzAoVGdF65HhH_I",
            "app_version": "10.1",
            "os_version": "2.5.4",
            "active": True,
            "created_time": 143383676,
        },
    )


def test_device_drops_the_other_platforms_advertising_id_and_custom_attributes() -> None:
    ios = schema.parse_device(
        {
            "customer_id": "u",
            "attributes": {"platform": "iOS", "push_id": "p", "moe_gaid": "g", "idfv": "v", "color": "red"},
        }
    )
    assert ios.attributes == {"platform": "iOS", "push_id": "p", "idfv": "v"}
    assert ios.device_id is None
    assert ios.dropped == [
        Drop("attributes.moe_gaid", "platform_mismatch", "g"),
        Drop("attributes.color", "unknown_field", "red"),
    ]
    android = schema.parse_device(
        {"customer_id": "u", "attributes": {"platform": "android", "push_id": "p", "moe_gaid": "g", "idfv": "v"}}
    )
    assert android.attributes == {"platform": "ANDROID", "push_id": "p", "moe_gaid": "g"}
    assert android.dropped == [Drop("attributes.idfv", "platform_mismatch", "v")]
    opted = schema.parse_device(
        {"customer_id": "u", "attributes": {"platform": "web", "push_id": "p", "moe_push_opted": "False"}}
    )
    assert opted.attributes["moe_push_opted"] is False


@pytest.mark.parametrize(
    ("payload", "error_type", "message", "attribute"),
    [
        (
            {"attributes": {"platform": "iOS", "push_id": "p"}},
            "MissingAttributeError",
            "'customer_id' is not found in the payload",
            "customer_id",
        ),
        ({"customer_id": "u"}, "MissingAttributeError", "'attributes' is not found in the payload", "attributes"),
        (
            {"customer_id": "u", "attributes": {"push_id": "p"}},
            "MissingAttributeError",
            "'platform' is not found in the payload",
            "platform",
        ),
        (
            {"customer_id": "u", "attributes": {"platform": "Windows", "push_id": "p"}},
            "ValueError",
            "'platform' is not a valid platform.",
            "platform",
        ),
        (
            {"customer_id": "u", "attributes": {"platform": "iOS"}},
            "MissingAttributeError",
            "'push_id' is not found in the payload",
            "push_id",
        ),
        (
            {"customer_id": "u", "attributes": {"platform": "iOS", "push_id": ["p"]}},
            "MissingAttributeError",
            "push_id is expected to be String",
            "push_id",
        ),
    ],
)
def test_device_refusals(payload: dict[str, Any], error_type: str, message: str, attribute: str) -> None:
    exc = refused(schema.parse_device, payload)
    assert (exc.type, exc.message, exc.attribute) == (error_type, message, attribute)


# ---------------------------------------------------------------- Bulk Import


def test_bulk_example() -> None:
    parsed = schema.parse_bulk(fx.BULK)
    assert [type(r) for r in parsed.records] == [UserRecord, DeviceRecord, EventRecord, EventRecord]
    assert (parsed.users, parsed.events) == (2, 2)


@pytest.mark.parametrize(
    ("payload", "error_type", "message", "attribute"),
    [
        ({"type": "transition"}, "MissingAttributeError", "elements is not found in the payload", "elements"),
        ({"type": "transition", "elements": []}, "MissingAttributeError", "elements cannot be empty array", "elements"),
        (
            {"elements": [{"type": "Customer", "customer_id": "u"}]},
            "AttributeError",
            "elements[0]: type in elements should be customer/event/device",
            "type",
        ),
        (
            {"elements": ["x"]},
            "AttributeError",
            "elements[0]: type in elements should be customer/event/device",
            "type",
        ),
        (
            {"elements": [{"type": "customer", "customer_id": "u"}, {"type": "event", "actions": [{"action": "A"}]}]},
            "MissingAttributeError",
            "elements[1]: customer_id is not found in the payload",
            "customer_id",
        ),
        (
            {"elements": [{"type": "event", "customer_id": "u", "actions": [{"action": ""}]}]},
            "MissingAttributeError",
            "elements[0]: action can not be empty Unicode String",
            "action",
        ),
        (
            {"type": "bulk", "elements": [{"type": "customer", "customer_id": "u"}]},
            "AttributeError",
            "type should be transition",
            "type",
        ),
    ],
)
def test_bulk_refusals(payload: dict[str, Any], error_type: str, message: str, attribute: str) -> None:
    exc = refused(schema.parse_bulk, payload)
    assert (exc.type, exc.message, exc.attribute) == (error_type, message, attribute)


# ---------------------------------------------------------------- Merge, Delete, Get User


def test_merge() -> None:
    assert schema.parse_merge(fx.RUDDER_MERGE) == [MergeRecord("4eb021e9-a2af-4926-ae82-fe996d12f3c5", "12345")]


@pytest.mark.parametrize(
    ("payload", "error_type", "message", "attribute"),
    [
        ({}, "MissingAttributeError", "merge_data is not found in the payload", "merge_data"),
        ({"merge_data": []}, "MissingAttributeError", "merge_data can not be empty Array", "merge_data"),
        (
            {"merge_data": [{"merged_user": 5, "retained_user": "r"}]},
            "MissingAttributeError",
            "merged_user is expected to be String or Unicode String",
            "merged_user",
        ),
        (
            {"merge_data": [{"merged_user": "m"}]},
            "MissingAttributeError",
            "retained_user is not found in the payload",
            "retained_user",
        ),
        (
            {"merge_data": [{"merged_user": "m", "retained_user": "m"}]},
            "ValueError",
            "merged_user and retained_user are the same user 'm'",
            "merged_user",
        ),
        (
            {"merge_data": [{"merged_user": f"m{i}", "retained_user": "r"} for i in range(51)]},
            "LimitBreached",
            "max limit allowed is 50",
            "merge_data",
        ),
    ],
)
def test_merge_refusals(payload: dict[str, Any], error_type: str, message: str, attribute: str) -> None:
    exc = refused(schema.parse_merge, payload)
    assert (exc.type, exc.message, exc.attribute) == (error_type, message, attribute)


def test_delete() -> None:
    assert schema.parse_delete(fx.DELETE) == ("customer_id", "6416d1a318r98264512c0f89")
    assert refused(schema.parse_delete, {"identity_value": "x"}).message == "identity_type is not found in the payload"
    # The MoEngage ID, under both documented names (#10); the API resolves it to the user.
    for kind in ("moengage_id", "id"):
        assert schema.parse_delete({"identity_type": kind, "identity_value": "x"}) == (kind, "x")
        exc = refused(schema.parse_delete, {"identity_type": kind, "identity_value": 5})
        assert exc.message == "identity_value is expected to be String or Unicode String"
    exc = refused(schema.parse_delete, {"identity_type": "email", "identity_value": "a@b.c"})
    assert exc.message == "identity_type 'email' is not supported; use one of customer_id, moengage_id, id"
    exc = refused(schema.parse_delete, {"identity_type": "customer_id"})
    assert exc.message == "identity_value is not found in the payload"
    exc = refused(schema.parse_delete, {"identity_type": "moengage_id", "identity_value": " "})
    assert exc.message == "identity_value can not be empty Unicode String"


def test_export() -> None:
    query = schema.parse_export(fx.EXPORT)
    assert (query.identifiers, query.fields) == ([("customer_id", "john_doe")], ["last_name", "customer_id", "name"])
    assert refused(schema.parse_export, {}).message == "data is not found in the payload"
    assert refused(schema.parse_export, {"data": {}}).message == "identifiers is not found in the payload"
    many = {"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": f"u{i}"} for i in range(21)]}}
    exc = refused(schema.parse_export, many)
    assert (exc.type, exc.message, exc.attribute) == ("LimitBreached", "max limit allowed is 20", "users")
    by_id = {"data": {"identifiers": [{"identifier_type": "id", "identifier": "62e79fb15ada55x123g987bu"}]}}
    assert schema.parse_export(by_id).identifiers == [("id", "62e79fb15ada55x123g987bu")]
    by_uid = {"data": {"identifiers": [{"identifier_type": "uid", "identifier": "x"}]}}
    message = "identifier_type 'uid' is not supported; use one of customer_id, moengage_id, id"
    assert refused(schema.parse_export, by_uid).message == message


def test_dots_in_event_names_get_a_space_as_the_vendor_ingests_them() -> None:
    """MoEngage's Data Tracking Policy: "event.name will be ingested as event. Name (with a space)"."""
    (record,) = schema.parse_event({"customer_id": "u", "actions": [{"action": "cart.item.added"}]})
    assert record.name == "cart. item. added"
    (record,) = schema.parse_event({"customer_id": "u", "actions": [{"action": "v1.", "attributes": {"a.b": 1}}]})
    assert (record.name, record.data) == ("v1. ", {"a.b": 1})  # attribute names keep their dots
    assert schema.vendor_event_name("no dots") == "no dots"


def test_check_account() -> None:
    account = Account(1, "acme", "~lc", "APPID", {}, hash_key("secret"))
    assert check_account(account, "secret") is account
    cases = [
        (None, "secret", 401, "Invalid APP_ID used in Authentication Header"),
        (account, "wrong", 401, "App Secret key mismatch. Please login to the dashboard to verify key"),
        (
            dataclasses.replace(account, data_api_key_hash=None),
            "secret",
            409,
            "App Secret key is not set. Please login to the dashboard to set a key",
        ),
    ]
    for candidate, secret, status, message in cases:
        exc = refused(check_account, candidate, secret)
        assert (exc.status, exc.type, exc.message) == (status, "Authentication required", message)
