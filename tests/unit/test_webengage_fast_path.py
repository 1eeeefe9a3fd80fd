"""The events fast path accepts exactly what the slow path accepts, with the same records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openengage.api.webengage_schema import Invalid, decode_body, fast_events, parse_bulk, parse_event
from openengage.records import decode_records, encode_records
from tests.support import seeds

BODIES: list[Any] = [
    seeds.EVENT,
    seeds.RUDDER_PAGE,
    {"anonymousId": "a", "eventName": "E"},
    {"userId": "u", "anonymousId": "", "eventName": "E", "eventTime": ""},
    {"userId": "u", "eventName": "E", "eventTime": 1704067200},
    {"userId": "u", "eventName": "E", "eventTime": 1704067200000},
    {"userId": "u", "eventName": "E", "eventTime": 1704067200.5},
    {"userId": "u", "eventName": "E", "eventData": {}},
    {"userId": "u", "eventName": "E", "eventData": None},
    {"userId": "u", "eventName": "E", "eventData": '{"a": 1}'},
    {"userId": "u", "eventName": "E", "eventData": {"nested": {"x": [1, 2, {"y": None}]}, "big": 10**30}},
    {"userId": "u", "eventName": "E", "extra": 1},
    {"userId": "u" * 100, "eventName": "e" * 49},
    # refused ones
    {"userId": "u" * 101, "eventName": "E"},
    {"eventName": "E"},
    {"userId": "", "eventName": "E"},
    {"userId": "u", "eventName": "e" * 50},
    {"userId": "u", "eventName": "app_installed"},
    {"userId": "u", "eventName": ""},
    {"userId": "u", "eventName": "E", "eventTime": "nope"},
    {"userId": "u", "eventName": "E", "eventTime": True},
    {"userId": "u", "eventName": "E", "eventData": [1]},
    {"userId": 5, "eventName": "E"},
    [seeds.EVENT],
]


def slow(body: bytes, bulk: bool) -> Any:
    try:
        data = decode_body(body)
        records = parse_bulk(data, "events", parse_event) if bulk else [parse_event(data)]
    except Invalid:
        return "refused"
    return decode_records(encode_records(records))


def fast(body: bytes, bulk: bool) -> Any:
    records = fast_events(body, bulk)
    return None if records is None else decode_records(encode_records(records))


@pytest.mark.parametrize("obj", BODIES)
def test_single_event_paths_agree(obj: Any) -> None:
    body = json.dumps(obj).encode()
    expected = slow(body, bulk=False)
    got = fast(body, bulk=False)
    assert got is None or got == expected  # the fast path may always decline
    if expected == "refused":
        assert got is None


def test_bulk_paths_agree() -> None:
    good = [b for b in BODIES[:13] if isinstance(b, dict)]
    body = json.dumps({"events": good}).encode()
    assert fast(body, bulk=True) is None  # some of them need the slow path (null data, extra field, ...)
    plain = [seeds.EVENT, seeds.RUDDER_PAGE, {"anonymousId": "a", "eventName": "E", "eventTime": 1704067200}]
    body = json.dumps({"events": plain}).encode()
    assert fast(body, bulk=True) == slow(body, bulk=True)
    assert fast(json.dumps({"events": []}).encode(), bulk=True) is None
    assert fast(json.dumps({"events": [seeds.EVENT] * 26}).encode(), bulk=True) is None


def test_the_common_shape_takes_the_fast_path() -> None:
    assert fast_events(json.dumps(seeds.EVENT).encode(), bulk=False) is not None
    assert fast_events(json.dumps(seeds.BULK_EVENTS).encode(), bulk=True) is not None


def test_limits_cost_the_common_shape_nothing() -> None:
    """Hex ids look like exponents to the byte scan; they are decoded to be sure, and stay on the fast path."""
    event = {"anonymousId": "bf412108-0357-4330-b119-7305e767823c", "eventName": "E"}
    event["eventData"] = {"order": "7305e767823c", "n": 1e300, "big": 10**300}
    assert fast_events(json.dumps(event).encode(), bulk=False) is not None
    deep_enough = {"userId": "u", "eventName": "E", "eventData": {"a": [[[[]]]] * 30}}  # many brackets, shallow
    assert fast_events(json.dumps({"events": [deep_enough] * 25}).encode(), bulk=True) is not None


@pytest.mark.parametrize(
    "data",
    [b'{"k":1e400}', b'{"k":-1E+309}', b'{"k":' + b"9" * 4400 + b"}", b'{"k":"\\u0000"}', b'{"k":{"\\u0000":1}}'],
)
def test_what_the_processor_could_not_decode_or_store_leaves_the_fast_path(data: bytes) -> None:
    body = b'{"userId":"u","eventName":"E","eventData":' + data + b"}"
    assert fast_events(body, bulk=False) is None
