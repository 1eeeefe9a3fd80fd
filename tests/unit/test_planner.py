"""The Planner is pure: entries + state in, effects out. No store involved."""

from __future__ import annotations

from typing import Any

from openengage.processor.planner import Planner
from openengage.records import DeleteRecord, DeviceRecord, Drop, EventRecord, MergeRecord, Record, UserRecord
from openengage.rules.identity import ProfileData
from openengage.store.base import Effects, LogEntry, State, StoredProfile

ACC = 1


def entry(log_id: int, *records: Record, at: int = 1_000) -> LogEntry:
    return LogEntry(log_id, ACC, at, list(records))


def state(
    profiles: dict[int, ProfileData] | None = None,
    ids: dict[tuple[str, str], int] | None = None,
    schemas: dict[str, dict[str, str]] | None = None,
    devices: dict[int, dict[str, Any]] | None = None,
) -> State:
    stored = {pid: StoredProfile(pid, ACC, data) for pid, data in (profiles or {}).items()}
    for pid, devs in (devices or {}).items():
        stored[pid].devices.update(devs)
    return State(
        {(ACC, k, v): pid for (k, v), pid in (ids or {}).items()},
        stored,
        {(ACC, scope): types for scope, types in (schemas or {}).items()},
    )


def plan(*entries: LogEntry, st: State | None = None) -> Effects:
    return Planner().plan(list(entries), st or state())


def reasons(fx: Effects) -> list[tuple[str, str]]:
    return [(r.field, r.reason) for r in fx.rejections]


def test_needs_lists_identities_and_scopes() -> None:
    needs = Planner().needs([entry(1, UserRecord(user_id="u", anonymous_id="a"), EventRecord("Buy", anonymous_id="b"))])
    assert needs.identities == {(ACC, "u", "u"), (ACC, "a", "a"), (ACC, "a", "b")}
    assert needs.scopes == {(ACC, "user"), (ACC, "event:Buy")}


def test_new_user_profile_with_system_and_custom_attributes() -> None:
    fx = plan(entry(1, UserRecord(user_id="u1", system={"firstName": "John"}, attributes={"Age": "31", "n": 2})))
    assert list(fx.new_profiles.values()) == [ACC]
    ((pid, profile),) = fx.profiles.items()
    assert pid < 0 and profile.data.user_id == "u1"
    assert profile.data.system == {"firstName": "John"} and profile.data.attributes == {"Age": "31", "n": 2}
    assert fx.identities == {(ACC, "u", "u1"): pid}
    assert sorted(fx.schema) == [(ACC, "user", "Age", "String", 1000), (ACC, "user", "n", "Number", 1000)]
    assert fx.stats[ACC] == {"users": 1, "anonymous_users": 0, "events": 0}


def test_existing_profile_update_and_last_write_wins_in_acceptance_order() -> None:
    st = state({5: ProfileData("u1", attributes={"plan": "free"})}, {("u", "u1"): 5}, {"user": {"plan": "String"}})
    fx = plan(
        entry(1, UserRecord(user_id="u1", attributes={"plan": "gold"})),
        entry(2, UserRecord(user_id="u1", attributes={"plan": "platinum"})),
        st=st,
    )
    assert fx.new_profiles == {}
    assert fx.profiles[5].data.attributes == {"plan": "platinum"}


def test_type_lock_within_one_batch_and_drop_recorded() -> None:
    fx = plan(entry(1, UserRecord(user_id="u", attributes={"x": 1}), UserRecord(user_id="u", attributes={"x": "one"})))
    (profile,) = fx.profiles.values()
    assert profile.data.attributes == {"x": 1}
    assert reasons(fx) == [("attributes.x", "type_conflict")]


def test_event_ids_follow_acceptance_order_and_event_creates_profile() -> None:
    fx = plan(entry(7, EventRecord("A", user_id="u", data={"p": 1}), EventRecord("B", anonymous_id="anon", time_ms=5)))
    assert [e.id for e in fx.events] == [(7 << 16) | 0, (7 << 16) | 1]
    assert fx.events[0].time_ms == 1000 and fx.events[1].time_ms == 5  # default: the accept time
    assert fx.stats[ACC] == {"users": 1, "anonymous_users": 1, "events": 2}


def test_event_on_existing_profile_only_touches_seen() -> None:
    st = state({5: ProfileData("u1", first_seen=2000, last_seen=3000)}, {("u", "u1"): 5})
    fx = plan(entry(1, EventRecord("A", user_id="u1", time_ms=1500)), st=st)
    assert fx.profiles == {} and fx.seen_only == {5: (1500, 3000)}


def test_events_with_both_ids_do_not_merge() -> None:
    st = state({5: ProfileData(None)}, {("a", "anon"): 5})
    fx = plan(entry(1, EventRecord("A", user_id="u1", anonymous_id="anon")), st=st)
    assert fx.moves == [] and fx.merges == []
    assert fx.events[0].profile_id < 0 and fx.events[0].anonymous_id == "anon"
    assert (ACC, "a", "anon") not in fx.identities


def test_identify_links_anonymous_id_when_no_anonymous_profile() -> None:
    fx = plan(entry(1, UserRecord(user_id="u1", anonymous_id="anon")))
    (pid,) = fx.new_profiles
    assert fx.identities == {(ACC, "u", "u1"): pid, (ACC, "a", "anon"): pid}
    assert fx.merges == []


def test_identify_promotes_the_anonymous_profile() -> None:
    st = state({5: ProfileData(None, attributes={"seen": True})}, {("a", "anon"): 5})
    fx = plan(entry(1, UserRecord(user_id="u1", anonymous_id="anon", system={"firstName": "J"})), st=st)
    assert fx.new_profiles == {}
    assert fx.profiles[5].data.user_id == "u1" and fx.profiles[5].data.attributes == {"seen": True}
    assert fx.identities == {(ACC, "u", "u1"): 5}
    assert [(m.from_profile, m.into_profile, m.kind) for m in fx.merges] == [(5, 5, "identify")]
    assert fx.stats[ACC] == {"users": 1, "anonymous_users": -1, "events": 0}


def test_identify_merges_anonymous_profile_into_known_with_its_events() -> None:
    st = state(
        {5: ProfileData("u1", attributes={"plan": "gold"}), 6: ProfileData(None, attributes={"plan": "free", "v": 1})},
        {("u", "u1"): 5, ("a", "anon"): 6},
    )
    fx = plan(
        entry(
            1,
            EventRecord("Before", anonymous_id="anon"),
            UserRecord(user_id="u1", anonymous_id="anon"),
            EventRecord("After", anonymous_id="anon"),
        ),
        st=st,
    )
    assert fx.moves == [(6, 5)] and fx.deletes == [6]
    assert fx.profiles[5].data.attributes == {"plan": "gold", "v": 1}
    assert [e.profile_id for e in fx.events] == [5, 5]  # both re-attributed
    assert fx.identities == {(ACC, "a", "anon"): 5}
    assert [(m.from_profile, m.into_profile, m.anonymous_id) for m in fx.merges] == [(6, 5, "anon")]


def test_identify_conflict_leaves_anonymous_profile_alone() -> None:
    st = state({5: ProfileData("u1"), 6: ProfileData("u2")}, {("u", "u1"): 5, ("u", "u2"): 6, ("a", "anon"): 6})
    fx = plan(entry(1, UserRecord(user_id="u1", anonymous_id="anon")), st=st)
    assert fx.moves == [] and fx.identities == {}
    assert reasons(fx) == [("anonymousId", "anonymous_id_conflict")]


def test_reserved_and_system_event_names_are_dropped_and_recorded() -> None:
    fx = plan(entry(1, EventRecord("we_internal", user_id="u"), EventRecord("app_installed", user_id="u")))
    assert fx.events == []
    assert reasons(fx) == [("eventName", "reserved_prefix"), ("eventName", "system_event")]


def test_event_attribute_limit_is_per_event_name() -> None:
    full = {f"n{i}": "Number" for i in range(25)}
    st = state(schemas={"event:Buy": full})
    fx = plan(
        entry(
            1, EventRecord("Buy", user_id="u", data={"extra": 1}), EventRecord("View", user_id="u", data={"extra": 1})
        ),
        st=st,
    )
    assert fx.events[0].data == {} and fx.events[1].data == {"extra": 1}
    assert reasons(fx) == [("eventData.extra", "type_limit")]


def test_edge_drops_are_recorded() -> None:
    fx = plan(entry(1, UserRecord(user_id="u", dropped=[Drop("nickname", "unknown_field", "JD")])))
    assert reasons(fx) == [("nickname", "unknown_field")]
    assert fx.rejections[0].value == "JD"


def test_update_existing_only_skips_unknown_users() -> None:
    fx = plan(entry(1, UserRecord(user_id="ghost", update_existing_only=True, attributes={"a": 1})))
    assert fx.new_profiles == {} and fx.profiles == {}
    assert reasons(fx) == [("customer_id", "user_not_found")]


def test_array_operations_and_unset() -> None:
    from openengage.records import UnsetRule

    st = state(
        {5: ProfileData("u", attributes={"tags": ["a", "b"], "temp_1": 1, "keep": 2})},
        {("u", "u"): 5},
        {"user": {"tags": "JSON Array", "temp_1": "Number", "keep": "Number"}},
    )
    fx = plan(
        entry(
            1,
            UserRecord(
                user_id="u",
                add_to_array={"tags": ["c"]},
                remove_from_array={"tags": ["a"]},
                unset=[UnsetRule("prefix", "temp_")],
            ),
        ),
        st=st,
    )
    assert fx.profiles[5].data.attributes == {"tags": ["b", "c"], "keep": 2}


def test_merge_users_moves_everything_and_records_the_ledger() -> None:
    st = state(
        {5: ProfileData("keep", attributes={"a": 1}), 6: ProfileData("gone", attributes={"b": 2})},
        {("u", "keep"): 5, ("u", "gone"): 6},
    )
    fx = plan(entry(1, MergeRecord(merged_user="gone", retained_user="keep"), EventRecord("E", user_id="gone")), st=st)
    assert fx.moves == [(6, 5)] and fx.deletes == [6]
    assert fx.profiles[5].data.attributes == {"a": 1, "b": 2}
    assert fx.identities == {(ACC, "u", "gone"): 5}  # the merged id now leads to the retained user
    assert fx.events[0].profile_id == 5
    assert [(m.kind, m.merged_user, m.user_id) for m in fx.merges] == [("merge", "gone", "keep")]


def test_merge_with_unknown_user_is_rejected() -> None:
    fx = plan(entry(1, MergeRecord(merged_user="nobody", retained_user="keep")))
    assert reasons(fx) == [("merged_user", "user_not_found")]


def test_delete_forgets_identities_and_recreation_is_a_new_profile() -> None:
    st = state({5: ProfileData("u")}, {("u", "u"): 5, ("a", "x"): 5})
    fx = plan(entry(1, DeleteRecord("u"), UserRecord(user_id="u")), st=st)
    assert fx.deletes == [5]
    (new,) = fx.new_profiles
    assert fx.identities == {(ACC, "u", "u"): new}
    assert fx.forget == {(ACC, "a", "x")}
    assert fx.stats[ACC]["users"] == 0  # -1 for the delete, +1 for the new profile


def test_devices_need_an_existing_user_and_duplicates_replace() -> None:
    st = state({5: ProfileData("u")}, {("u", "u"): 5}, devices={5: {"old": {"device_id": "old", "push_id": "P"}}})
    fx = plan(
        entry(1, DeviceRecord("u", "new", {"push_id": "P", "platform": "ANDROID"}), DeviceRecord("ghost", "d", {})),
        st=st,
    )
    assert fx.devices == {(5, "old"): None, (5, "new"): {"push_id": "P", "platform": "ANDROID", "device_id": "new"}}
    assert reasons(fx) == [("customer_id", "user_not_found")]
