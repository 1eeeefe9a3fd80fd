"""The Planner on MoEngage-shaped records (pure): platforms, devices, merges, deletes, drop reasons."""

from __future__ import annotations

from typing import Any

from openengage.processor.planner import Planner, merge_platforms
from openengage.records import (
    DeleteRecord,
    DeviceRecord,
    Drop,
    EventRecord,
    MergeRecord,
    Record,
    UnsetRule,
    UserRecord,
)
from openengage.rules.identity import ProfileData
from openengage.store.base import Effects, LogEntry, State, StoredProfile

ACC = 1
AT = 1_700_000_000_000


def plan(records: list[Record], state: State | None = None) -> Effects:
    return Planner().plan([LogEntry(7, ACC, AT, records)], state or State({}, {}, {}))


def existing(*users: tuple[int, str, dict[str, Any]]) -> State:
    """Profiles (id, user id, devices) already in the store."""
    profiles = {pid: StoredProfile(pid, ACC, ProfileData(user_id=uid), dict(devices)) for pid, uid, devices in users}
    return State({(ACC, "u", uid): pid for pid, uid, _ in users}, profiles, {})


def test_merge_platforms_replaces_by_platform() -> None:
    current = [{"platform": "ANDROID", "active": True}, {"platform": "web", "active": True}]
    update = [{"platform": "ANDROID", "active": False}, {"platform": "iOS", "active": True}]
    assert merge_platforms(current, update) == [
        {"platform": "web", "active": True},
        {"platform": "ANDROID", "active": False},
        {"platform": "iOS", "active": True},
    ]
    assert merge_platforms(None, update) == update


def test_user_platforms_accumulate_across_records() -> None:
    fx = plan(
        [
            UserRecord(user_id="u", system={"platforms": [{"platform": "ANDROID", "active": True}]}),
            UserRecord(user_id="u", system={"platforms": [{"platform": "iOS", "active": True}]}),
        ]
    )
    (profile,) = fx.profiles.values()
    assert profile.data.system["platforms"] == [
        {"platform": "ANDROID", "active": True},
        {"platform": "iOS", "active": True},
    ]


def test_device_needs_an_existing_user() -> None:
    fx = plan([DeviceRecord(user_id="ghost", device_id="d", attributes={"platform": "iOS", "push_id": "p"})])
    assert fx.devices == {} and fx.new_profiles == {}
    (rejection,) = fx.rejections
    assert (rejection.kind, rejection.field, rejection.reason) == ("device", "customer_id", "user_not_found")


def test_device_created_earlier_in_the_same_batch_counts_as_existing() -> None:
    fx = plan(
        [
            UserRecord(user_id="u"),
            DeviceRecord(user_id="u", device_id="d", attributes={"platform": "iOS", "push_id": "p"}),
        ]
    )
    ((pid, device_id), device) = next(iter(fx.devices.items()))
    assert pid < 0 and device_id == "d"
    assert device == {"platform": "iOS", "push_id": "p", "device_id": "d"}


def test_duplicate_push_id_replaces_the_other_device() -> None:
    state = existing((10, "u", {"old": {"platform": "ANDROID", "push_id": "p", "device_id": "old"}}))
    fx = plan([DeviceRecord(user_id="u", device_id="new", attributes={"platform": "ANDROID", "push_id": "p"})], state)
    assert fx.devices == {(10, "old"): None, (10, "new"): {"platform": "ANDROID", "push_id": "p", "device_id": "new"}}


def test_device_update_keeps_earlier_fields() -> None:
    state = existing((10, "u", {"d": {"platform": "iOS", "push_id": "p", "model": "iPhone", "device_id": "d"}}))
    fx = plan([DeviceRecord(user_id="u", device_id="d", attributes={"platform": "iOS", "push_id": "p2"})], state)
    assert fx.devices[(10, "d")] == {"platform": "iOS", "push_id": "p2", "model": "iPhone", "device_id": "d"}


def test_moengage_drop_reasons_are_recorded_with_a_detail() -> None:
    drops = [
        Drop("attributes.moe_gaid", "platform_mismatch", "g"),
        Drop("gender", "invalid_value", "robot"),
        Drop("id", "reserved_name", 5),
    ]
    fx = plan([UserRecord(user_id="u", dropped=drops)])
    assert [(r.field, r.reason) for r in fx.rejections] == [(d.field, d.reason) for d in drops]
    assert all(r.detail != r.reason and r.dropped for r in fx.rejections)


def test_merge_moves_data_events_and_identity_and_writes_the_ledger() -> None:
    state = existing((10, "merged", {}), (20, "retained", {}))
    state.profiles[10].data.attributes.update({"plan": "gold", "city": "Pune"})
    state.profiles[20].data.attributes.update({"plan": "silver"})
    fx = plan([MergeRecord("merged", "retained"), EventRecord(name="Later", user_id="merged")], state)
    assert fx.moves == [(10, 20)]
    assert fx.deletes == [10]
    assert fx.profiles[20].data.attributes == {"plan": "silver", "city": "Pune"}
    assert fx.identities[(ACC, "u", "merged")] == 20
    # The vendor's merge events (#10), then the later event: all on the retained profile.
    assert [(e.name, e.user_id, e.profile_id) for e in fx.events] == [
        ("MOE_USER_MERGE_EVENT", "merged", 20),
        ("MOE_USER_MERGED", "retained", 20),
        ("Later", "merged", 20),
    ]
    assert len({e.id for e in fx.events}) == 3
    (ledger,) = fx.merges
    assert (ledger.kind, ledger.from_profile, ledger.into_profile, ledger.merged_user, ledger.user_id) == (
        "merge",
        10,
        20,
        "merged",
        "retained",
    )


def test_merge_with_an_unknown_user_is_skipped_and_recorded() -> None:
    fx = plan([MergeRecord("ghost", "retained")], existing((20, "retained", {})))
    assert fx.moves == [] and fx.merges == []
    (rejection,) = fx.rejections
    assert (rejection.field, rejection.reason) == ("merged_user", "user_not_found")


def test_delete_then_recreate_makes_a_new_profile() -> None:
    state = existing((10, "u", {"d": {"platform": "iOS", "push_id": "p", "device_id": "d"}}))
    fx = plan(
        [
            EventRecord(name="Before", user_id="u"),
            DeleteRecord("u"),
            UserRecord(user_id="u", attributes={"fresh": True}),
            EventRecord(name="After", user_id="u"),
        ],
        state,
    )
    assert fx.deletes == [10]
    assert fx.devices == {(10, "d"): None}
    (new_pid,) = fx.new_profiles
    assert fx.identities[(ACC, "u", "u")] == new_pid
    assert fx.profiles[new_pid].data.attributes == {"fresh": True}
    before, after = fx.events
    assert (before.name, before.profile_id) == ("Before", 10)  # kept, on the deleted profile
    assert (after.name, after.profile_id) == ("After", new_pid)


def test_delete_of_an_unknown_user_is_recorded() -> None:
    fx = plan([DeleteRecord("ghost")])
    assert fx.deletes == []
    assert [(r.field, r.reason) for r in fx.rejections] == [("identity_value", "user_not_found")]


def test_update_existing_only_does_not_create() -> None:
    fx = plan([UserRecord(user_id="ghost", update_existing_only=True, attributes={"a": 1})])
    assert fx.new_profiles == {} and fx.profiles == {}
    assert [(r.field, r.reason) for r in fx.rejections] == [("customer_id", "user_not_found")]
    fx = plan([UserRecord(user_id="u", update_existing_only=True, attributes={"a": 1})], existing((10, "u", {})))
    assert fx.profiles[10].data.attributes == {"a": 1}


def test_array_operators_and_unset() -> None:
    state = existing((10, "u", {}))
    state.profiles[10].data.attributes.update({"tags": ["a", "b"], "temp_x": 1, "keep": 2})
    state.schemas[(ACC, "user")] = {"tags": "JSON Array", "temp_x": "Number", "keep": "Number"}
    fx = plan(
        [
            UserRecord(user_id="u", add_to_array={"tags": ["c", "a"], "fresh": ["x"]}),
            UserRecord(user_id="u", remove_from_array={"tags": ["b"]}, unset=[UnsetRule("prefix", "TEMP_", False)]),
        ],
        state,
    )
    assert fx.profiles[10].data.attributes == {"tags": ["a", "c"], "keep": 2, "fresh": ["x"]}
