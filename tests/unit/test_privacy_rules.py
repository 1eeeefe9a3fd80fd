"""GDPR and business-event rules, pure: statuses and the pending period, the subject hash, restriction in
the Planner (new data of a restricted user dropped with reason `restricted`), merge events, value types."""

from __future__ import annotations

import hashlib

from openengage import reasons
from openengage.processor.planner import Planner
from openengage.records import DeleteRecord, DeviceRecord, EventRecord, MergeRecord, Record, UserRecord
from openengage.rules import business, gdpr
from openengage.rules.identity import ProfileData
from openengage.rules.system_events import is_system_event
from openengage.store.base import Effects, LogEntry, State, StoredProfile

ACC = 1
AT = 1_700_000_000_000
DAY = gdpr.DAY_MS


def state(restricted: set[str], *users: tuple[int, str], anonymous: dict[str, int] | None = None) -> State:
    profiles = {pid: StoredProfile(pid, ACC, ProfileData(user_id=uid)) for pid, uid in users}
    identities = {(ACC, "u", uid): pid for pid, uid in users}
    identities |= {(ACC, "a", aid): pid for aid, pid in (anonymous or {}).items()}
    return State(identities, profiles, {}, {(ACC, uid) for uid in restricted})


def plan(records: list[Record], s: State) -> Effects:
    return Planner().plan([LogEntry(9, ACC, AT, records)], s)


# ---------------------------------------------------------------- GDPR statuses


def test_erasure_is_pending_then_processing_then_done() -> None:
    due = gdpr.due_at(gdpr.ERASURE, AT, 7)
    assert due == AT + 7 * DAY
    assert gdpr.due_at(gdpr.RESTRICTION, AT, 7) is None and gdpr.due_at(gdpr.PORTABILITY, AT, 0) is None
    assert gdpr.due_at(gdpr.ERASURE, AT, 0) == AT
    assert gdpr.public_status(gdpr.PENDING, due, due - 1) == "PENDING"
    assert gdpr.public_status(gdpr.PENDING, due, due) == "PROCESSING"
    assert gdpr.public_status(gdpr.DONE, due, due) == "DONE"
    assert gdpr.public_status(gdpr.CANCELLED, due, AT) == "CANCELLED"
    assert gdpr.public_status(gdpr.DONE, None, AT) == "DONE"
    assert gdpr.cancellable(gdpr.PENDING, due, due - 1) and not gdpr.cancellable(gdpr.PENDING, due, due)
    assert not gdpr.cancellable(gdpr.DONE, due, AT)
    assert not gdpr.ripe(due, due + gdpr.GRACE_MS - 1) and gdpr.ripe(due, due + gdpr.GRACE_MS)


def test_the_subject_hash_is_salted() -> None:
    salt = gdpr.new_salt()
    assert len(salt) == 32 and gdpr.new_salt() != salt
    assert gdpr.subject_hash(salt, "u1") == hashlib.sha256(f"{salt}\x00u1".encode()).hexdigest()
    assert gdpr.subject_hash(salt, "u1") != gdpr.subject_hash(gdpr.new_salt(), "u1")
    assert gdpr.registered_message("re-enable") == "re-enable request registered"


# ---------------------------------------------------------------- restriction in the Planner


def test_a_restricted_users_new_data_is_dropped_and_recorded() -> None:
    s = state({"calm"}, (10, "calm"), (20, "free"), anonymous={"calm-anon": 10})
    fx = plan(
        [
            UserRecord(user_id="calm", attributes={"a": 1}),
            EventRecord(name="E", user_id="calm"),
            EventRecord(name="E", anonymous_id="calm-anon"),  # leads to the restricted profile
            UserRecord(anonymous_id="calm-anon", attributes={"b": 2}),
            DeviceRecord(user_id="calm", device_id="d"),
            MergeRecord("free", "calm"),
            UserRecord(user_id="free", attributes={"c": 3}),
            EventRecord(name="E", user_id="free"),
        ],
        s,
    )
    restricted = [(r.kind, r.user_id, r.anonymous_id) for r in fx.rejections if r.reason == reasons.RESTRICTED]
    assert restricted == [
        ("user", "calm", None),
        ("event", "calm", None),
        ("event", None, "calm-anon"),
        ("user", None, "calm-anon"),
        ("device", "calm", None),
        ("merge", "calm", None),
    ]
    assert all(r.field == "userId" and r.dropped and r.value is None for r in fx.rejections)
    assert [e.user_id for e in fx.events] == ["free"]
    assert set(fx.profiles) == {20} and fx.devices == {} and fx.moves == []


def test_a_delete_of_a_restricted_user_is_applied() -> None:
    fx = plan([DeleteRecord("calm")], state({"calm"}, (10, "calm")))
    assert fx.deletes == [10] and fx.rejections == []


def test_without_restrictions_nothing_changes() -> None:
    fx = plan([UserRecord(user_id="calm", attributes={"a": 1})], state(set(), (10, "calm")))
    assert fx.rejections == [] and fx.profiles[10].data.attributes == {"a": 1}


# ---------------------------------------------------------------- MoEngage merge events


def test_a_merge_adds_the_vendors_two_events_with_ids_of_their_own() -> None:
    fx = plan([MergeRecord("a", "b"), MergeRecord("c", "b")], state(set(), (1, "a"), (2, "b"), (3, "c")))
    assert [(e.name, e.user_id, e.profile_id) for e in fx.events] == [
        ("MOE_USER_MERGE_EVENT", "a", 2),
        ("MOE_USER_MERGED", "b", 2),
        ("MOE_USER_MERGE_EVENT", "c", 2),
        ("MOE_USER_MERGED", "b", 2),
    ]
    assert len({e.id for e in fx.events}) == 4 and all(e.id >> 16 == 9 for e in fx.events)
    assert fx.events[2].data == {"merged_user": "c", "retained_user": "b"}
    assert fx.stats[ACC]["events"] == 4
    # Clients cannot send them (system events, both dialects).
    assert is_system_event("MOE_USER_MERGED") and is_system_event("MOE_USER_MERGE_EVENT")
    fx = plan([EventRecord(name="MOE_USER_MERGED", user_id="a")], state(set(), (1, "a")))
    assert fx.events == [] and [r.reason for r in fx.rejections] == [reasons.SYSTEM_EVENT]


def test_a_skipped_merge_adds_no_event() -> None:
    fx = plan([MergeRecord("ghost", "b"), MergeRecord("b", "b")], state(set(), (2, "b")))
    assert fx.events == []


# ---------------------------------------------------------------- business events


def test_business_values_against_their_type() -> None:
    good = {
        "string": "x",
        "number": 1.5,
        "boolean": False,
        "date": "2019-01-05T13:06:56+0530",
        "array": [],
        "map": {},
    }
    for data_type, value in good.items():
        assert business.value_problem(data_type, value) is None, data_type
    assert business.value_problem("number", True) == "must be a number, not a boolean"
    assert business.value_problem("string", None) == "must be a string, not null"
    assert business.value_problem("date", 5) == "must be a date such as 2019-01-05T13:06:56+0530, not a number"
    assert business.value_problem("string", "x" * 1000) == "must be at most 999 characters (got 1000)"
    assert business.value_problem("colour", 1) == "has an unknown data type 'colour'"


def test_business_definitions_may_only_grow() -> None:
    current = [("a", "string"), ("b", "number")]
    assert business.merged_attributes(current, current) == (current, None)
    assert business.merged_attributes(current, [("b", "number"), ("a", "string"), ("c", "map")]) == (
        [*current, ("c", "map")],
        None,
    )
    assert business.merged_attributes(current, [("a", "string")])[1] == "attribute 'b' is defined and cannot be removed"
    assert business.merged_attributes(current, [("a", "date"), ("b", "number")])[1] == (
        "attribute 'a' is defined as string and cannot become date"
    )
    assert business.per_type_problem([(f"n{i}", "number") for i in range(25)]) is None
    assert business.per_type_problem([(f"n{i}", "number") for i in range(26)]) == (
        "at most 25 attributes of type number (got 26)"
    )
    assert business.name_problem(" ") == "cannot be empty"
    assert business.name_problem("we_x") == "cannot start with 'we_' (reserved)"
    assert business.name_problem("x" * 49) is None
