"""Hostile and unstorable input at the edge (#7), on both stores.

Every ingest endpoint of both dialects answers a clear 400 in its vendor's shape, naming the field, and
stores and charges nothing, for: times outside the supported range, NUL anywhere, JSON nested past the
limit. App-wide 404/405 answers speak the dialect of the path; `?format=xml` is always well-formed.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any

import httpx2 as httpx
import pytest

from openengage.api.guard import MAX_DEPTH
from openengage.rules.dates import SUPPORTED_RANGE
from tests.support import moengage_fixtures as fx
from tests.support import seeds
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_fail

NUL = "\x00"
NUL_WORDS = "contains the NUL character (\\u0000), which cannot be stored"
DEEP_WE = "nested too deeply; at most 64 levels of objects and arrays are accepted"
DEEP_MOE = "The JSON document is nested too deeply; at most 64 levels of objects and arrays are accepted."

WE_PATHS = ["/users", "/events", "/bulk-users", "/bulk-events"]
# (path with {app}, query) of every MoEngage route that takes a body.
MOE_ROUTES = [
    ("/v1/customer/{app}", {}),
    ("/v1/event/{app}", {}),
    ("/v1/device/{app}", {}),
    ("/v1/transition/{app}", {}),
    ("/v1/customer/merge", {"app_id": "{app}"}),
    ("/v1/customer/delete", {"app_id": "{app}"}),
    ("/v1/customers/export", {"app_id": "{app}"}),
]


def we_message(r: httpx.Response, status: int = 400) -> str:
    assert r.status_code == status, r.text
    body = r.json()["response"]
    assert body["status"] == "error"
    return str(body["message"])


def assert_nothing_stored(api: Harness) -> None:
    assert api.data("/stats")["pending"] == 0
    api.drain()
    assert api.data("/stats") == {"users": 0, "anonymousUsers": 0, "events": 0, "pending": 0, "deadLetters": 0}


def assert_not_charged(api: Harness, path: str, body: Any) -> None:
    """A refused request costs nothing: the next accepted one is the first of the window."""
    r = api.post(path, body)
    assert r.status_code == 201, r.text
    assert int(r.headers["X-RateLimit-Remaining"]) == int(r.headers["X-RateLimit-Limit"]) - 1


def moe_post(api: Harness, path: str, query: dict[str, str], **kw: Any) -> httpx.Response:
    app = api.creds.app_id
    params = {k: v.format(app=app) for k, v in query.items()}
    return Moe(api).post(path.format(app=app), params=params, **kw)


def nested(levels: int, leaf: bytes = b"1") -> bytes:
    """`levels` levels of objects and arrays in turn, as JSON text."""
    opening = b"".join(b'{"k":' if i % 2 else b"[" for i in range(levels))
    closing = b"".join(b"}" if i % 2 else b"]" for i in reversed(range(levels)))
    return opening + leaf + closing


def nested_value(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


# ---------------------------------------------------------------- event times and dates

OUT_OF_RANGE_TIMES: list[Any] = [2**70, 9e15, -9e15, 10**19, "9999-12-31T23:59:59-2359", "0001-01-01T00:00:00+0100"]


@pytest.mark.usefixtures("steady_rate_window")
@pytest.mark.parametrize("when", OUT_OF_RANGE_TIMES)
def test_webengage_event_times_outside_the_range(api: Harness, when: Any) -> None:
    event = {"userId": "u", "eventName": "e", "eventTime": when}
    message = we_message(api.post("/events", event))
    assert message.startswith("Error: eventTime ")
    assert f"is outside the supported range, {SUPPORTED_RANGE}" in message
    message = we_message(api.post("/bulk-events", {"events": [seeds.EVENT, event]}))
    assert "1 of 2 records are invalid" in message and "events[1]: eventTime " in message
    assert_nothing_stored(api)
    assert_not_charged(api, "/events", seeds.EVENT)


def test_webengage_birth_date_outside_the_range(api: Harness) -> None:
    user = {"userId": "u", "birthDate": "9999-12-31T23:59:59-2359"}
    message = we_message(api.post("/users", user))
    assert message == f"Error: birthDate '9999-12-31T23:59:59-2359' is outside the supported range, {SUPPORTED_RANGE}."
    r = api.post("/bulk-users", {"users": [seeds.USER, user]})
    assert [e["index"] for e in r.json()["response"]["errors"]] == [1]
    assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("action", "attribute"),
    [
        ({"current_time": "99999999999999999999"}, "current_time"),  # found by #7: processor stuck forever
        ({"current_time": 2**70}, "current_time"),
        ({"current_time": 9e15}, "current_time"),
        ({"current_time": -9e15}, "current_time"),
        ({"current_time": "9999-12-31T23:59:59-2359"}, "current_time"),
        ({"current_time": "9" * 5000}, "current_time"),  # int() refuses that many digits: was a 500
        ({"current_time": "1" * 400 + ".5"}, "current_time"),  # overflows to infinity: was a 500
        ({"user_time": "99999999999999999999"}, "user_time"),
        ({"user_time": "0001-01-01T00:00:00", "user_timezone_offset": 19800}, "user_time"),  # shifted out
        ({"current_time": 1433837969, "user_time": 2**70}, "user_time"),  # kept with the event: checked too
    ],
)
def test_moengage_event_times_outside_the_range(api: Harness, action: dict[str, Any], attribute: str) -> None:
    moe = Moe(api)
    body = {"type": "event", "customer_id": "u1", "actions": [{"action": "Bought", **action}]}
    error = assert_fail(moe.event(body), 400, "ValueError", attribute=attribute)
    assert error["message"].startswith(f"{attribute} ") and SUPPORTED_RANGE in error["message"]
    r = moe.bulk({"type": "transition", "elements": [fx.USER, body]})
    error = assert_fail(r, 400, "ValueError", attribute=attribute)
    assert error["message"].startswith(f"elements[1]: {attribute} ")
    assert_nothing_stored(api)


def test_moengage_device_ids_postgresql_can_index(api: Harness) -> None:
    """A 6,000-character device id was accepted, then failed the processor on PostgreSQL forever (btree limit)."""
    moe = Moe(api)
    long_id = "".join(f"{i:x}" for i in range(2000))[:6000]  # hex: incompressible enough for the index
    device = {
        "type": "device",
        "customer_id": "u1",
        "device_id": long_id,
        "attributes": {"platform": "iOS", "push_id": "p"},
    }
    message = f"device_id can be of maximum 255 characters (got {len(long_id)})"
    assert_fail(moe.device(device), 400, "ValueError", message, "device_id")
    event = {"type": "event", "customer_id": "u1", "device_id": long_id, "actions": [{"action": "a"}]}
    assert_fail(moe.event(event), 400, "ValueError", message, "device_id")
    assert_nothing_stored(api)
    assert moe.customer({"type": "customer", "customer_id": "u1"}).status_code == 200
    assert (
        moe.device(
            {**device, "device_id": long_id[:255], "attributes": {"platform": "iOS", "push_id": long_id}}
        ).status_code
        == 200
    )
    api.drain()
    assert api.profile("u1")["devices"][0]["device_id"] == long_id[:255]


def test_moengage_timezone_offset_that_overflows(api: Harness) -> None:
    body = {"type": "event", "customer_id": "u1", "actions": [{"action": "a", "user_timezone_offset": "9" * 400}]}
    assert_fail(Moe(api).event(body), 400, "ValueError", attribute="user_timezone_offset")
    assert_nothing_stored(api)


# ---------------------------------------------------------------- NUL


@pytest.mark.usefixtures("steady_rate_window")
@pytest.mark.parametrize(
    ("path", "record", "where"),
    [
        ("/users", {"userId": f"u{NUL}"}, "userId"),
        ("/users", {"anonymousId": NUL}, "anonymousId"),
        ("/users", {"userId": "u", "firstName": NUL}, "firstName"),
        ("/users", {"userId": "u", "attributes": {f"a{NUL}b": 1}}, "a name in attributes"),
        ("/users", {"userId": "u", "attributes": {"x": {"y": ["ok", NUL]}}}, "attributes.x.y[1]"),
        ("/users", {"userId": "u", "attributes": {"Plan name": NUL}}, 'attributes["Plan name"]'),
        ("/users", {"userId": "u", "notAField": NUL}, "notAField"),  # would be recorded as a drop
        ("/events", {"userId": f"u{NUL}", "eventName": "e"}, "userId"),
        ("/events", {"userId": "u", "eventName": f"e{NUL}"}, "eventName"),
        ("/events", {"userId": "u", "eventName": "e", "eventData": {"k": NUL}}, "eventData.k"),
        ("/events", {"userId": "u", "eventName": "e", "eventData": {f"k{NUL}": 1}}, "a name in eventData"),
        ("/events", {"userId": "u", "eventName": "e", "eventData": '{"k": ["\\u0000"]}'}, "eventData.k[0]"),
    ],
)
def test_webengage_nul_anywhere(api: Harness, path: str, record: dict[str, Any], where: str) -> None:
    assert we_message(api.post(path, record)) == f"Error: {where} {NUL_WORDS}."
    bulk_path, key, good = (
        ("/bulk-users", "users", seeds.USER) if path == "/users" else ("/bulk-events", "events", seeds.EVENT)
    )
    r = api.post(bulk_path, {key: [good, record, good]})
    assert r.json()["response"]["errors"] == [{"index": 1, "message": f"Error: {where} {NUL_WORDS}."}]
    assert_nothing_stored(api)
    assert_not_charged(api, path, good)


def test_an_escaped_backslash_is_not_a_nul(api: Harness) -> None:
    """`\\\\u0000` in JSON is the six characters `\\u0000`: storable, and stored as sent."""
    event = {"userId": "u", "eventName": "e", "eventData": {"text": "\\u0000"}}
    assert api.post("/events", event).status_code == 201
    api.drain()
    assert api.events("u")["events"][0]["eventData"] == {"text": "\\u0000"}


@pytest.mark.parametrize(
    ("kind", "body", "words", "attribute"),
    [
        ("customer", {"customer_id": f"u{NUL}"}, "customer_id", "customer_id"),
        ("customer", {"customer_id": "u", "attributes": {f"n{NUL}": 1}}, "a name in attributes", "attributes"),
        ("customer", {"customer_id": "u", "attributes": {"city": NUL}}, "attributes.city", "attributes.city"),
        ("customer", {"customer_id": "u", "attributes": {"first_name": NUL}}, "attributes.first_name", None),
        ("customer", {"customer_id": "u", "attributes": {"we ird": NUL}}, 'attributes["we ird"]', None),
        ("event", {"customer_id": "u", "actions": [{"action": f"e{NUL}"}]}, "actions[0].action", None),
        (
            "event",
            {"customer_id": "u", "actions": [{"action": "e", "attributes": {"k": [NUL]}}]},
            "actions[0].attributes.k[0]",
            None,
        ),
        ("event", {"customer_id": "u", "actions": [{"action": "e", "platform": NUL}]}, "actions[0].platform", None),
        (
            "device",
            {"customer_id": "u", "device_id": NUL, "attributes": {"platform": "iOS", "push_id": "p"}},
            "device_id",
            None,
        ),
    ],
)
def test_moengage_nul_anywhere(
    api: Harness, kind: str, body: dict[str, Any], words: str, attribute: str | None
) -> None:
    moe = Moe(api)
    body = {"type": kind, **body}
    attribute = attribute or words
    r = {"customer": moe.customer, "event": moe.event, "device": moe.device}[kind](body)
    assert_fail(r, 400, "ValueError", f"{words} {NUL_WORDS}", attribute)
    r = moe.bulk({"type": "transition", "elements": [fx.USER, body]})
    assert_fail(r, 400, "ValueError", f"elements[1]: {words} {NUL_WORDS}", attribute)
    assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("send", "attribute"),
    [
        (lambda moe: moe.merge({"merge_data": [{"merged_user": NUL, "retained_user": "b"}]}), "merged_user"),
        (lambda moe: moe.delete({"identity_type": "customer_id", "identity_value": f"u{NUL}"}), "identity_value"),
        (
            lambda moe: moe.export({"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": NUL}]}}),
            "identifier",
        ),
    ],
)
def test_moengage_nul_in_ids_that_are_looked_up(api: Harness, send: Any, attribute: str) -> None:
    """PostgreSQL refuses a NUL even in a lookup: delete and export answered 500 there."""
    error = assert_fail(send(Moe(api)), 400, "ValueError", attribute=attribute)
    assert error["message"] == f"{attribute} {NUL_WORDS}"
    assert_nothing_stored(api)


def test_nul_in_license_code_app_id_and_request_id(api: Harness) -> None:
    r = api.client.post("/v1/accounts/%00/users", json=seeds.USER, headers=api.auth())
    assert we_message(r, 404) == "Error: no account with license code '\x00'."
    r = api.post("/users", seeds.USER, headers={"x-request-id": f"r{NUL}"})
    assert we_message(r) == f"Error: x-request-id {NUL_WORDS}."
    auth = "Basic " + base64.b64encode(f"{NUL}:{api.creds.data_api_key}".encode()).decode()
    r = Moe(api).post("/v1/customer/%00", fx.USER, headers={"Content-Type": "application/json", "Authorization": auth})
    assert_fail(r, 401, "Authentication required", "Invalid APP_ID used in Authentication Header")
    assert_nothing_stored(api)


# ---------------------------------------------------------------- numbers no decoder can hold

BIG_NUMBER_WORDS = (
    "Error: request body holds a number out of range (beyond ±1.8e308, or an integer of more than 4300 digits);"
    " send such a value as a string."
)


@pytest.mark.parametrize("number", [b"1e400", b"-1E+309", b"9" * 4400])
def test_numbers_past_a_double_are_refused(api: Harness, number: bytes) -> None:
    """The events fast path passed eventData on undecoded: the processor then failed on it forever."""
    event = b'{"userId":"u","eventName":"e","eventData":{"k":' + number + b"}}"
    assert we_message(api.post("/events", content=event)) == BIG_NUMBER_WORDS
    assert we_message(api.post("/bulk-events", content=b'{"events":[' + event + b"]}")) == BIG_NUMBER_WORDS
    assert (
        we_message(api.post("/users", content=b'{"userId":"u","attributes":{"k":' + number + b"}}")) == BIG_NUMBER_WORDS
    )
    body = b'{"type":"event","customer_id":"u1","actions":[{"action":"a","attributes":{"k":' + number + b"}}]}"
    assert_fail(Moe(api).event(None, content=body), 400, "Malformed JSON")
    assert_nothing_stored(api)


# ---------------------------------------------------------------- nesting depth


def _we_bodies(deep: bytes) -> dict[str, bytes]:
    event = b'{"userId":"u","eventName":"e","eventData":{"a":' + deep + b"}}"
    user = b'{"userId":"u","attributes":{"a":' + deep + b"}}"
    return {
        "/users": user,
        "/events": event,
        "/bulk-users": b'{"users":[' + user + b"]}",
        "/bulk-events": b'{"events":[' + event + b"]}",
    }


@pytest.mark.parametrize("levels", [1000, 50_000])
def test_webengage_deep_json_on_every_endpoint(api: Harness, levels: int) -> None:
    for path, body in _we_bodies(nested(levels)).items():
        assert we_message(api.post(path, content=body)) == f"Error: request body is {DEEP_WE}.", path
        assert we_message(api.post(path, content=nested(levels))) == f"Error: request body is {DEEP_WE}.", path
    event = {"userId": "u", "eventName": "e", "eventData": '{"a":' + nested(levels).decode() + "}"}
    assert we_message(api.post("/events", event)) == f"Error: eventData is {DEEP_WE}."
    assert_nothing_stored(api)


@pytest.mark.parametrize("levels", [1000, 20_000])  # 20,000 levels: just under the 128 KB body limit
def test_moengage_deep_json_on_every_route(api: Harness, levels: int) -> None:
    for path, query in MOE_ROUTES:
        for body in (
            nested(levels),
            b'{"type":"customer","customer_id":"u","attributes":{"a":' + nested(levels) + b"}}",
        ):
            assert_fail(moe_post(api, path, query, content=body), 400, "Malformed JSON", DEEP_MOE)
    assert_nothing_stored(api)


def test_depth_limit_is_exact(api: Harness) -> None:
    """A body of exactly MAX_DEPTH levels is accepted by either events path; one more level is refused."""

    def event(data_levels: int, **extra: Any) -> dict[str, Any]:
        return {"userId": "u", "eventName": "e", "eventData": {"a": nested_value(data_levels - 1)}, **extra}

    top = MAX_DEPTH - 1  # the event object is the first level
    for extra in ({}, {"unknown": 1}):  # fast path, slow path
        assert api.post("/events", event(top, **extra)).status_code == 201
        assert we_message(api.post("/events", event(top + 1, **extra))).endswith(DEEP_WE + ".")
    inner = MAX_DEPTH - 3  # {"events": [ {event} ]}
    assert api.post("/bulk-events", {"events": [event(inner)] * 25}).status_code == 201
    assert we_message(api.post("/bulk-events", {"events": [event(inner)] * 24 + [event(inner + 1)]})).endswith(
        DEEP_WE + "."
    )
    moe = Moe(api)
    customer = {"type": "customer", "customer_id": "u1", "attributes": {"a": nested_value(MAX_DEPTH - 2)}}
    assert moe.customer(customer).status_code == 200
    customer["attributes"] = {"a": nested_value(MAX_DEPTH - 1)}
    assert_fail(moe.customer(customer), 400, "Malformed JSON", DEEP_MOE)
    api.drain()
    stats = api.data("/stats")
    assert stats["events"] == 2 + 25 and stats["pending"] == 0


# ---------------------------------------------------------------- XML


def test_xml_error_with_control_characters_is_well_formed(api: Harness) -> None:
    event = {"userId": "u", "eventName": "e", "eventTime": "\x01\x1b[31m"}
    r = api.post("/events", event, params={"format": "xml"})
    assert r.status_code == 400
    message = ET.fromstring(r.content).findtext("message")
    assert message is not None and "'\ufffd\ufffd[31m' is not a valid date" in message


def test_xml_profile_with_control_characters_is_well_formed(api: Harness) -> None:
    user = {"userId": "u", "firstName": "a\x02b", "attributes": {"ctrl": "\x7f\x1f\x0b", "deep": nested_value(40)}}
    assert api.post("/users", user).status_code == 201
    api.drain()
    r = api.get("/users/u", params={"format": "xml"})
    assert r.status_code == 200
    data = ET.fromstring(r.content).find("data")
    assert data is not None and data.findtext("userId") == "u"
    assert data.findtext("firstName") == "a\ufffdb"


# ---------------------------------------------------------------- app-wide 404 / 405 / 500 by dialect


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/customer/{app}", 405),
        ("GET", "/v1/event/{app}", 405),
        ("PUT", "/v1/device/{app}", 405),
        ("GET", "/v1/transition", 405),
        ("GET", "/v1/customers/export", 405),
        ("POST", "/v1/customer/{app}/more", 404),
        ("POST", "/v1/event/{app}/x/y", 404),
        ("POST", "/v1/customers/{app}", 404),
    ],
)
def test_moengage_paths_answer_404_and_405_in_moengage_shape(api: Harness, method: str, path: str, status: int) -> None:
    r = api.client.request(method, path.format(app=api.creds.app_id), headers=Moe(api).headers(), json=fx.USER)
    error = assert_fail(r, status, "Not Found" if status == 404 else "Method Not Allowed")
    if status == 405:
        assert "POST" in r.headers["allow"]
        assert error["message"] == f"Method {method} is not allowed here; the Data API takes POST"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/accounts/{lc}/users", 405),
        ("POST", "/v1/accounts/{lc}/nothing", 404),
        ("POST", "/v1/customerx/abc", 404),  # not a Data API root
        ("GET", "/nowhere", 404),
    ],
)
def test_other_paths_keep_the_webengage_shape(api: Harness, method: str, path: str, status: int) -> None:
    r = api.client.request(method, path.format(lc=api.lc), headers=api.auth())
    expected = "Error: no such resource." if status == 404 else "Error: method not allowed."
    assert r.json() == {"response": {"message": expected, "status": "error"}}
    assert r.status_code == status


def test_server_error_handler_speaks_the_dialect_of_the_path() -> None:
    import asyncio

    from starlette.requests import Request

    from openengage.app import server_error

    def request(path: str) -> Request:
        return Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""})

    moe = asyncio.run(server_error(request("/v1/event/app"), RuntimeError("boom")))
    assert moe.status_code == 500
    assert moe.body.startswith(b'{"status":"fail","error":{"type":"Server Error"')
    we = asyncio.run(server_error(request("/v1/accounts/lc/events"), RuntimeError("boom")))
    assert we.status_code == 500
    assert we.body == b'{"response":{"message":"Error: internal server error; nothing was queued.","status":"error"}}'


# ---------------------------------------------------------------- what the edge accepts, both stores write

# Awkward but storable: the edge must accept each of these, and the processor must write them on either store.
EDGE_VALUES: dict[str, Any] = {
    "int64 max": 2**63 - 1,
    "int64 min": -(2**63),
    "uint64 max": 2**64 - 1,
    "huge": 10**30,
    "float max": 1.7976931348623157e308,
    "tiny": 5e-324,
    "negative zero": -0.0,
    "controls": "\x01\x1b\x1f\x7f",
    "astral": "😀𝄞",
    "literal escape": "\\u0000",
    "markup": "\"'<&>]]>",
    "deep": nested_value(MAX_DEPTH - 6),  # the deepest spot below (MoEngage bulk) holds it at level 64
    "empty": "",
    "mixed list": [None, True, 1, "x", {"a": []}],
    "dots.and[brackets]": 1,
    "long": "x" * 5000,
    "date": "0001-01-01T00:00:00Z",
    "".join(f"{i:x}" for i in range(1500)): "a 5,000-character name (dropped by the rules, recorded)",
    "big string": "".join(f"{i:x}" for i in range(30_000)),  # truncated by the rules
}
EMOJI_ID = "😀" * 100  # 400 bytes of UTF-8 in the identities index


def test_every_value_the_edge_accepts_both_stores_can_write(api: Harness) -> None:
    posts = [
        api.post("/users", {"userId": "we", "birthDate": "0001-01-01T00:00:00Z", "attributes": EDGE_VALUES}),
        api.post("/bulk-users", {"users": [{"userId": "we", "attributes": EDGE_VALUES}, {"anonymousId": "anon"}]}),
        api.post(
            "/events", {"userId": "we", "eventName": "max", "eventTime": 253_402_300_799_999, "eventData": EDGE_VALUES}
        ),
        api.post(
            "/events", {"userId": "we", "eventName": "min", "eventTime": "0001-01-01T00:00:00Z", "x": EDGE_VALUES}
        ),
        api.post("/events", {"userId": "we", "eventName": "iso max", "eventTime": "9999-12-31T23:59:59.999Z"}),
        api.post("/events", {"userId": "we", "eventName": "before 1970", "eventTime": -1, "eventData": "{}"}),
        api.post("/bulk-events", {"events": [{"userId": "we", "eventName": "bulk", "eventData": EDGE_VALUES}] * 3}),
    ]
    assert [r.status_code for r in posts] == [201] * len(posts), [r.text for r in posts]
    moe = Moe(api)
    within_128kb = {k: v for k, v in EDGE_VALUES.items() if k != "big string"}  # two of these in one request
    action = {
        "action": "edge",
        "attributes": within_128kb,
        "current_time": "253402300799999",
        "user_time": "-62135596800",
    }
    posts = [
        moe.customer(
            {"type": "customer", "customer_id": "moe", "attributes": {**EDGE_VALUES, "birthday": "0001-01-01"}}
        ),
        moe.event(
            {"type": "event", "customer_id": "moe", "actions": [action, {**action, "current_time": MIN_MS_TEXT}]}
        ),
        moe.device({"type": "device", "customer_id": "moe", "device_id": "d", "attributes": DEVICE_ATTRIBUTES}),
        moe.bulk({"type": "transition", "elements": [{"type": "event", "customer_id": "moe", "actions": [action]}]}),
    ]
    assert [r.status_code for r in posts] == [200] * len(posts), [r.text for r in posts]
    assert api.post("/events", {"userId": EMOJI_ID, "anonymousId": EMOJI_ID, "eventName": "😀" * 49}).status_code == 201
    assert moe.customer({"type": "customer", "customer_id": "🙂" * 100}).status_code == 200

    api.drain()
    assert api.data("/stats") == {
        "users": 4,
        "anonymousUsers": 1,
        "events": 4 + 3 + 3 + 1,
        "pending": 0,
        "deadLetters": 0,
    }
    profile = api.profile("we")
    assert profile["firstSeen"] == "0001-01-01T00:00:00+0000"
    assert profile["lastSeen"] == "9999-12-31T23:59:59+0000"
    times = {e["eventName"]: e["eventTime"] for e in api.events("we", limit=100)["events"]}
    assert times["max"] == "9999-12-31T23:59:59+0000" and times["before 1970"] == "1969-12-31T23:59:59+0000"
    moe_times = {e["eventTime"] for e in api.events("moe", limit=100)["events"]}
    assert moe_times == {"9999-12-31T23:59:59+0000", "0001-01-01T00:00:00+0000"}
    for path in ("/users/we", "/users/moe", "/users/we/events", "/users/moe/events"):
        r = api.get(path, params={"format": "xml"})
        assert r.status_code == 200
        ET.fromstring(r.content)  # well-formed, control characters and all


MIN_MS_TEXT = "-62135596800000"  # 0001-01-01T00:00:00Z in epoch milliseconds, as MoEngage clients send them
DEVICE_ATTRIBUTES = {"platform": "iOS", "push_id": "p\x01", "model": "😀", "created_time": 2**64, "custom": EDGE_VALUES}


def test_times_stored_before_the_range_still_read(api: Harness) -> None:
    """format_ms is total: a time written before the edge refused it (here straight into the log) reads."""
    from openengage.records import EventRecord, encode_records
    from openengage.store.base import Submission

    records = [
        EventRecord("legacy", "old", None, 9 * 10**15, None, {}),
        EventRecord("legacy", "old", None, -(9 * 10**15)),
    ]
    submit = api.app.state.services.committer.submit
    api.call(submit, Submission(api.creds.account_id, "events", 1, 0, encode_records(records), len(records)))
    api.drain()
    profile = api.profile("old")
    assert (profile["firstSeen"], profile["lastSeen"]) == ("-283229-05-10T08:00:00+0000", "+287168-08-24T16:00:00+0000")
    times = [e["eventTime"] for e in api.events("old")["events"]]
    assert sorted(times) == ["+287168-08-24T16:00:00+0000", "-283229-05-10T08:00:00+0000"]
