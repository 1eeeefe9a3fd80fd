"""Property-based tests of the ingest parsers of both dialects (hypothesis).

For arbitrary JSON values and arbitrary bytes, every endpoint's parser either returns records or raises
its dialect's Invalid, never anything else (anything else is a 500); every record it returns is one both
stores can hold (it encodes and decodes as the log does, no NUL anywhere, times in the supported range,
nesting bounded); and the WebEngage events fast path agrees with the slow path.

Runs are derandomised (the same examples every run, so CI is reproducible); raise EXAMPLES locally to
search further: `OPENENGAGE_FUZZ_EXAMPLES=20000 pytest tests/unit/test_parser_properties.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openengage.api import moengage, webengage
from openengage.api import moengage_schema as moe_schema
from openengage.api.guard import MAX_DEPTH, nul_path, too_deep
from openengage.api.moengage_errors import Invalid as MoeInvalid
from openengage.api.webengage_schema import Invalid as WeInvalid
from openengage.api.webengage_schema import decode_body, fast_events, parse_bulk, parse_event
from openengage.records import DeviceRecord, EventRecord, RawEventRecord, Record, decode_records, encode_records
from openengage.rules.dates import MAX_MS, MIN_MS

EXAMPLES = int(os.environ.get("OPENENGAGE_FUZZ_EXAMPLES", "250"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a shared machine: no timing in tests
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# ---------------------------------------------------------------- strategies

NASTY_TEXT = ["", " ", "\x00", "u\x00", "\\u0000", "null", "0", "we_x", "e" * 50, "u" * 101, "app_installed"]
NASTY_TIMES = [
    "9999-12-31T23:59:59-2359",
    "0001-01-01T00:00:00+0100",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "2018-09-15T18:29:00-0800",
    "99999999999999999999",
    "9" * 5000,
    "1" * 400 + ".5",
    "1708939453396",
    "-1",
    2**70,
    9e15,
    -9e15,
    MAX_MS,
    MAX_MS + 1,
    MIN_MS,
    MIN_MS - 1,
]


def nested_value(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


text = st.one_of(st.text(max_size=12), st.text(max_size=12), st.sampled_from(NASTY_TEXT))
keys = st.text(max_size=10)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)
deep = st.integers(min_value=MAX_DEPTH - 6, max_value=MAX_DEPTH + 2).map(nested_value)
values = json_values
# Attributes and event data: sometimes nested right around the depth limit.
objects = st.one_of(st.dictionaries(keys, values, max_size=5), deep.map(lambda value: {"nested": value}))
times = st.one_of(
    st.sampled_from(NASTY_TIMES),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet="0123456789-:T.Z+ ", max_size=30),
    st.datetimes().map(lambda d: d.isoformat()),
    values,
)


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three in four examples valid, so most bodies get past a field to the ones behind it."""
    return st.one_of(valid, valid, valid, other)


ids = mostly(st.sampled_from(["john", "u1", "a@b.c", "Added to Cart"]), text | values)


def shaped(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


we_user = shaped(
    {"userId": ids},
    {
        "anonymousId": ids,
        "firstName": ids,
        "birthDate": times,
        "gender": mostly(st.sampled_from(["male", "Female", ""]), values),
        "phone": mostly(st.just("+551155256325"), values),
        "emailOptIn": mostly(st.booleans(), values),
        "attributes": mostly(objects, values),
        "unknown": values,
    },
)
we_event = shaped(
    {"userId": ids, "eventName": ids},
    {
        "anonymousId": ids,
        "eventTime": times,
        "eventData": mostly(objects, values | objects.map(lambda o: msgspec.json.encode(o).decode())),
        "unknown": values,
    },
)
moe_action = shaped(
    {"action": ids},
    {
        "attributes": mostly(objects, values),
        "platform": mostly(st.sampled_from(["android", "iOS", "TV"]), values),
        "app_version": mostly(text, values),
        "current_time": times,
        "user_time": times,
        "user_timezone_offset": mostly(st.integers(min_value=-54_000, max_value=54_000), values),
        "unknown": values,
    },
)
moe_customer = shaped(
    {"type": st.just("customer"), "customer_id": ids},
    {
        "attributes": mostly(objects, values),
        "update_existing_only": mostly(st.booleans(), values),
        "platforms": mostly(st.just([{"platform": "ANDROID", "active": "true"}]), values),
        "unset_attributes": mostly(st.just([{"type": "prefix", "attr": "temp_"}]), values),
    },
)
moe_event = shaped(
    {"type": st.just("event"), "customer_id": ids, "actions": st.lists(moe_action, min_size=1, max_size=3)},
    {"device_id": ids, "unknown": values},
)
moe_device = shaped(
    {
        "type": st.just("device"),
        "customer_id": ids,
        "attributes": mostly(
            shaped(
                {"platform": mostly(st.sampled_from(["iOS", "ANDROID"]), values), "push_id": ids},
                {"model": ids, "x": values},
            ),
            values,
        ),
    },
    {"device_id": ids},
)
moe_body = st.one_of(
    moe_customer,
    moe_event,
    moe_device,
    shaped(
        {"type": st.just("transition"), "elements": st.lists(moe_customer | moe_event | moe_device, max_size=4)}, {}
    ),
    shaped({"merge_data": st.lists(shaped({"merged_user": ids, "retained_user": ids}, {}), max_size=3)}, {}),
    shaped({"identity_type": mostly(st.just("customer_id"), values), "identity_value": ids}, {}),
    shaped(
        {
            "data": shaped(
                {"identifiers": st.lists(shaped({"identifier_type": st.just("customer_id"), "identifier": ids}, {}))},
                {},
            )
        },
        {},
    ),
    values,
)
we_body = st.one_of(
    we_user,
    we_event,
    shaped({}, {"users": st.lists(we_user, max_size=27)}),
    shaped({}, {"events": st.lists(we_event, max_size=27)}),
    values,
)


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


@st.composite
def garbled(draw: st.DrawFn, bodies: st.SearchStrategy[Any]) -> bytes:
    """A JSON body with a few bytes inserted, deleted or replaced: mostly broken, sometimes not."""
    body = bytearray(encode(draw(bodies)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(body)))
        junk = draw(
            st.binary(max_size=3)
            | st.sampled_from([b"[", b"{", b"]", b"}", b'"', b"\\", b"\xff", b"\\u0000", b"1e400", b"9" * 4400])
        )
        cut = draw(st.integers(min_value=0, max_value=2))
        body[at : at + cut] = junk
    return bytes(body)


def raw_bodies(bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=64), garbled(bodies), bodies.map(encode))


# ---------------------------------------------------------------- what an accepted record must be


def assert_storable(records: Sequence[Record | RawEventRecord]) -> None:
    payload = encode_records(records)  # what the ingest log stores
    decoded = decode_records(payload)  # what the processor reads back
    assert len(decoded) == len(records)
    for record in decoded:
        if isinstance(record, EventRecord) and record.time_ms is not None:
            assert MIN_MS <= record.time_ms <= MAX_MS, record
        # Text PostgreSQL indexes (a btree row holds at most 2,704 bytes): identities and device ids.
        for name in ("user_id", "anonymous_id", "merged_user", "retained_user"):
            assert len(getattr(record, name, None) or "") <= 100, record
        if isinstance(record, DeviceRecord):
            assert len(record.device_id or "") <= 255, record
    assert nul_path(msgspec.to_builtins(decoded)) is None
    # A value sits at most three levels deeper in the log than in its body: an unknown top-level field
    # is kept as `[{"dropped": [{"value": …}]}]`.
    assert not too_deep(payload, MAX_DEPTH + 3)


WE_PARSERS: list[Callable[[bytes], Sequence[Record | RawEventRecord]]] = [
    webengage.users,
    webengage.events,
    webengage.bulk_users,
    webengage.bulk_events,
]
MOE_PARSERS: list[Callable[[dict[str, Any]], Any]] = [
    moengage.customer,
    moengage.event,
    moengage.device,
    moengage.bulk,
    moengage.merge,
    moengage.delete,
]


def we_outcomes(body: bytes) -> None:
    for parse in WE_PARSERS:
        try:
            records = parse(body)
        except WeInvalid as exc:
            assert exc.message.startswith("Error: ")
            continue
        assert_storable(records)


def moe_outcomes(body: bytes) -> None:
    try:
        obj = moe_schema.decode_body(body)
    except MoeInvalid as exc:
        assert exc.status == 400 and exc.type and exc.message
        return
    for parse in MOE_PARSERS:
        try:
            plan = parse(obj)
        except MoeInvalid as exc:
            assert exc.status == 400 and exc.type and exc.message
            continue
        assert_storable(plan.records)
    try:
        moe_schema.parse_export(obj)
    except MoeInvalid as exc:
        assert exc.status == 400


# ---------------------------------------------------------------- WebEngage


@FUZZ
@given(we_body)
def test_webengage_parsers_on_json_values(value: Any) -> None:
    we_outcomes(encode(value))


@FUZZ
@given(raw_bodies(we_body))
def test_webengage_parsers_on_bytes(body: bytes) -> None:
    we_outcomes(body)


def slow_events(body: bytes, bulk: bool) -> Any:
    try:
        data = decode_body(body)
        records = parse_bulk(data, "events", parse_event) if bulk else [parse_event(data)]
    except WeInvalid:
        return "refused"
    return decode_records(encode_records(records))


@FUZZ
@given(st.one_of(we_event, shaped({}, {"events": st.lists(we_event, max_size=27)})))
def test_webengage_fast_and_slow_paths_agree(value: Any) -> None:
    body = encode(value)
    bulk = isinstance(value, dict) and "events" in value
    fast = fast_events(body, bulk)
    expected = slow_events(body, bulk)
    if fast is not None:
        assert expected != "refused", body
        assert decode_records(encode_records(fast)) == expected


# ---------------------------------------------------------------- MoEngage


@FUZZ
@given(moe_body)
def test_moengage_parsers_on_json_values(value: Any) -> None:
    moe_outcomes(encode(value))


@FUZZ
@given(raw_bodies(moe_body))
def test_moengage_parsers_on_bytes(body: bytes) -> None:
    moe_outcomes(body)


# ---------------------------------------------------------------- the examples that found bugs, kept


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"userId":"u","eventName":"e","eventData":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"userId":"u","eventName":"e","eventTime":1180591620717411303424}',
        b'{"userId":"u","eventName":"e","eventTime":9e15}',
        b'{"userId":"u","eventName":"e","eventData":{"k":"\\u0000"}}',
        b'{"userId":"u","eventName":"e","eventData":{"k":1e400}}',  # the fast path passed it on undecoded
        b'{"userId":"u","eventName":"e","eventData":{"k":' + b"9" * 4400 + b"}}",
        b'{"events":[{"userId":"u","eventName":"e","eventData":{"k":-1E+309}}]}',
        b'{"type":"event","customer_id":"u","actions":[{"action":"a","current_time":"' + b"9" * 5000 + b'"}]}',
        b'{"type":"event","customer_id":"u","actions":[{"action":"a","user_timezone_offset":"' + b"9" * 400 + b'"}]}',
    ],
)
def test_known_hostile_bodies(body: bytes) -> None:
    we_outcomes(body)
    moe_outcomes(body)
