"""The processor's pure rules are total: no JSON value the log's decoder can produce makes them raise.

Property tests (hypothesis): records are generated as the JSON the ingest log holds, with any value
where the record types take any value (huge integers, floats, deep nesting, NUL and odd unicode, empty
and reserved names), and decoded with the log's own decoder, so every case is one the processor can
really meet. A rule that raised would send a whole entry to the dead letters.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openengage.processor.planner import PLATFORMS, Planner, merge_platforms
from openengage.records import decode_records
from openengage.rules import attributes as attrs
from openengage.rules.identity import Identify, ProfileData, identify_action, merge_into
from openengage.store.base import LogEntry, Needs, State, StoredProfile

PROPERTY = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- JSON values

ODD_TEXT = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "we_", "we_x", "x" * 49, "x" * 50, "x" * 1200, "é", "\u200b", "\U0001f600",
     "\ufeff", "1986-08-19", "2018-09-15T18:29:00-0800", "9999-12-31T23:59:59-2359", "platforms", "id", "NaN"]
)  # fmt: skip
TEXT = st.text(max_size=12) | ODD_TEXT
NUMBERS = (
    st.integers()
    | st.sampled_from([2**63, -(2**63) - 1, 2**70, 10**40])
    | st.floats(allow_nan=False, allow_infinity=False)
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


DEEP = st.integers(min_value=50, max_value=400).map(nested)
VALUES = (
    st.recursive(
        SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12
    )
    | DEEP
)
OBJECTS = st.dictionaries(TEXT, VALUES, max_size=5)

# ---------------------------------------------------------------- records, as the log holds them

IDS = st.sampled_from(["u1", "u2", "", "\x00", "a/b", "anon-1"]) | st.text(max_size=4)
OPT_IDS = st.none() | IDS
DROPS = st.lists(st.fixed_dictionaries({"field": TEXT, "reason": TEXT, "value": VALUES}), max_size=2)


def record(kind: str, required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(kind), **required}, optional=optional)


USERS = record(
    "user",
    {},
    {
        "user_id": OPT_IDS, "anonymous_id": OPT_IDS, "system": st.dictionaries(TEXT | st.just(PLATFORMS), VALUES),
        "attributes": OBJECTS, "identify": st.booleans(), "update_existing_only": st.booleans(),
        "add_to_array": st.dictionaries(TEXT, st.lists(VALUES, max_size=3), max_size=3),
        "remove_from_array": st.dictionaries(TEXT, st.lists(VALUES, max_size=3), max_size=3),
        "unset": st.lists(
            st.fixed_dictionaries(
                {"match": st.sampled_from(["equals", "prefix", "suffix", "contains"]) | TEXT, "attr": TEXT},
                optional={"case_sensitive": st.booleans()},
            ),
            max_size=3,
        ),
        "dropped": DROPS,
    },
)  # fmt: skip
EVENTS = record(
    "event",
    {"name": TEXT},
    {
        "user_id": OPT_IDS, "anonymous_id": OPT_IDS, "time_ms": st.none() | st.integers() | st.just(2**70),
        "time_text": st.none() | TEXT, "data": OBJECTS, "context": OBJECTS, "dropped": DROPS,
    },
)  # fmt: skip
DEVICES = record("device", {"user_id": IDS}, {"device_id": st.none() | TEXT, "attributes": OBJECTS, "dropped": DROPS})
MERGES = record("merge", {"merged_user": IDS, "retained_user": IDS}, {})
DELETES = record("delete", {"user_id": IDS}, {})
RECORDS = st.lists(USERS | EVENTS | DEVICES | MERGES | DELETES, min_size=1, max_size=6)


@st.composite
def entries(draw: st.DrawFn) -> list[LogEntry]:
    out = []
    for i in range(draw(st.integers(min_value=1, max_value=4))):
        payload = msgspec.json.encode(draw(RECORDS))
        account = draw(st.sampled_from([1, 2]))
        out.append(LogEntry(100 + i, account, draw(st.integers(min_value=0, max_value=2**62)), decode_records(payload)))
    return out


# ---------------------------------------------------------------- what the store holds


@st.composite
def databases(draw: st.DrawFn) -> State:
    """Everything a store could hold for these ids; `load` below hands the planner its slice."""
    identities: dict[tuple[int, str, str], int] = {}
    profiles: dict[int, StoredProfile] = {}
    for pid in range(1, draw(st.integers(min_value=0, max_value=4)) + 1):
        account = draw(st.sampled_from([1, 2]))
        user = draw(OPT_IDS)
        if user is not None:
            identities[(account, "u", user)] = pid
        for anon in draw(st.lists(IDS, max_size=2)):
            identities.setdefault((account, "a", anon), pid)
        system = draw(st.dictionaries(TEXT | st.just(PLATFORMS), VALUES, max_size=3))
        data = ProfileData(user, system, draw(OBJECTS), draw(st.none() | st.integers()), None)
        if data.first_seen is not None:
            data.last_seen = data.first_seen
        devices = draw(st.dictionaries(TEXT, OBJECTS, max_size=2))
        profiles[pid] = StoredProfile(pid, account, data, devices)
    schemas: dict[tuple[int, str], dict[str, str]] = {}
    for account in (1, 2):
        for scope in ("user", *(f"event:{n}" for n in ("", "x", "we_x"))):
            schemas[(account, scope)] = draw(st.dictionaries(TEXT, st.sampled_from(attrs.TYPES), max_size=30))
    return State(identities, profiles, schemas)


def load(db: State, needs: Needs) -> State:
    """What a store's `load` returns: the identities asked for, their profiles, the scopes asked for."""
    identities = {key: pid for key, pid in db.identities.items() if key in needs.identities}
    profiles = {pid: db.profiles[pid] for pid in set(identities.values())}
    schemas = {key: types for key, types in db.schemas.items() if key in needs.scopes}
    return State(identities, profiles, schemas)


# ---------------------------------------------------------------- the planner


@PROPERTY
@given(db=databases(), batch=entries())
def test_the_planner_plans_every_batch_the_log_can_hold(db: State, batch: list[LogEntry]) -> None:
    planner = Planner()
    needs = planner.needs(batch)
    state = load(db, needs)
    known = set(state.profiles)
    fx = planner.plan(batch, state)
    # Only identities the store was asked to load are written: no identity is overwritten blind.
    assert set(fx.identities) <= needs.identities
    assert fx.forget <= needs.identities
    for event in fx.events:
        assert event.profile_id in known or event.profile_id in fx.new_profiles
        assert event.account_id in (1, 2) and event.id >> 16 in {e.id for e in batch}
    for pid, profile in fx.profiles.items():
        assert pid in known or pid in fx.new_profiles
        msgspec.json.encode([profile.data.system, profile.data.attributes])  # storable as JSON
    for account, scope, name, vtype, _first in fx.schema:
        assert (account, scope) in needs.scopes and attrs.name_issue("n", name) is None and vtype in attrs.TYPES
    counted = {r.account_id for r in fx.rejections} | {e.account_id for e in fx.events}
    assert counted <= {e.account_id for e in batch}


@PROPERTY
@given(batch=entries())
def test_the_planner_plans_on_an_empty_store(batch: list[LogEntry]) -> None:
    planner = Planner()
    fx = planner.plan(batch, load(State({}, {}, {}), planner.needs(batch)))
    assert all(p < 0 for p in fx.new_profiles)


# ---------------------------------------------------------------- attribute and identity rules


@PROPERTY
@given(values=OBJECTS, locked=st.dictionaries(TEXT, st.sampled_from(attrs.TYPES), max_size=30), at=NUMBERS)
def test_clean_attributes_is_total_and_keeps_only_what_it_may(
    values: dict[str, Any], locked: dict[str, str], at: Any
) -> None:
    schema = attrs.Schema(locked)
    kept, issues = attrs.clean_attributes("attributes", values, schema, at if isinstance(at, int) else 0)
    assert set(kept) <= set(values)
    assert {i.field for i in issues if i.dropped} >= {f"attributes.{n}" for n in set(values) - set(kept)}
    for name, value in kept.items():
        assert attrs.name_issue("n", name) is None or name in locked
        assert not isinstance(value, str) or len(value) <= attrs.MAX_STRING_LENGTH
        assert name in schema.types
    before = Counter(locked.values())
    assert all(n <= max(attrs.MAX_PER_TYPE, before[vtype]) for vtype, n in schema.counts.items())


@PROPERTY
@given(name=TEXT, value=VALUES)
def test_single_value_rules_are_total(name: str, value: Any) -> None:
    attrs.value_type(value)
    attrs.name_issue("field", name)
    attrs.truncate("field", name)
    for match in ("equals", "prefix", "suffix", "contains", name):
        attrs.unset_matches(name, match, name[:3], case_sensitive=False)
    assert attrs.same(value, msgspec.json.decode(msgspec.json.encode(value)))


@PROPERTY
@given(current=VALUES, values=st.lists(VALUES, max_size=5))
def test_array_operations_are_total(current: Any, values: list[Any]) -> None:
    added = attrs.add_values(current, values)
    assert all(attrs.contains(added, v) for v in values)
    removed = attrs.remove_values(added, values)
    assert not any(attrs.contains(removed, v) for v in values)
    merge_platforms(current, values)
    merge_platforms(values, current)


@PROPERTY
@given(a=OBJECTS, b=OBJECTS, seen=st.lists(st.integers(), max_size=3))
def test_identity_rules_are_total(a: dict[str, Any], b: dict[str, Any], seen: list[int]) -> None:
    known, other = ProfileData("k", dict(a), dict(b)), ProfileData(None, dict(b), dict(a))
    for moment in seen:
        other.seen(moment)
    merge_into(known, other)
    assert set(known.attributes) == set(a) | set(b)
    stored = ProfileData.stored("k", msgspec.json.encode(a), msgspec.json.encode(b), None, None)
    assert stored.system == a and stored.attributes == b
    for known_pid in (None, 1):
        for anon_pid in (None, 1, 2):
            for owner in (None, "k"):
                assert isinstance(identify_action(known_pid, anon_pid, owner), Identify)


def test_json_equality_tells_true_from_one_and_survives_any_depth() -> None:
    assert attrs.same({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not attrs.same([True], [1]) and not attrs.same(0, False) and not attrs.same([], {})
    deep = nested(5000)  # deeper than the decoder goes, and than Python's == can compare
    assert attrs.same(deep, nested(5000)) and not attrs.same(deep, nested(4999))
    [kept] = attrs.add_values([nested(5000)], [nested(5000)])
    assert attrs.same(kept, deep) and attrs.remove_values([deep], [nested(5000)]) == []


def test_records_without_any_id_are_recorded_not_fatal() -> None:
    """The log decoder accepts a user or event record with neither id; the planner drops it with a reason."""
    records = decode_records(b'[{"type":"user","attributes":{"a":1}},{"type":"event","name":"E"}]')
    fx = Planner().plan([LogEntry(1, 1, 0, records)], State({}, {}, {}))
    assert [(r.kind, r.reason, r.dropped) for r in fx.rejections] == [
        ("user", "missing_id", True),
        ("event", "missing_id", True),
    ]
    assert fx.events == [] and fx.new_profiles == {}


def test_platforms_of_any_shape_never_break_a_profile_update() -> None:
    state = State({(1, "u", "u"): 1}, {1: StoredProfile(1, 1, ProfileData("u", {PLATFORMS: "odd"}))}, {})
    update = decode_records(b'[{"type":"user","user_id":"u","system":{"platforms":[1,{"platform":[2]},null]}}]')
    fx = Planner().plan([LogEntry(1, 1, 0, update)], state)
    assert fx.profiles[1].data.system[PLATFORMS] == [1, {"platform": [2]}, None]
    assert merge_platforms([{"platform": [2]}, {"platform": "A"}], [{"platform": [2]}]) == [
        {"platform": "A"},
        {"platform": [2]},
    ]
