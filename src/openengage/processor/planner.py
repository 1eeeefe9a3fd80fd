"""The Planner: turns claimed log entries plus the State they touch into Effects. Pure, no I/O.

Records are applied in acceptance order (entry id, then position), so within a batch the last write to
an attribute wins exactly as it would one record at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from openengage import reasons
from openengage.records import DeleteRecord, DeviceRecord, Drop, EventRecord, MergeRecord, UserRecord
from openengage.rules import attributes as attrs
from openengage.rules.identity import Identify, ProfileData, identify_action, merge_into
from openengage.rules.system_events import MOE_USER_MERGE_EVENT, MOE_USER_MERGED, is_system_event
from openengage.store.base import (
    Effects,
    EventRow,
    LogEntry,
    MergeRow,
    Needs,
    RejectionRow,
    State,
    StoredProfile,
)

USER_SCOPE = "user"
EVENT_SCOPE_PREFIX = "event:"

# Rejection reasons: their home is openengage/reasons.py.
R_ANON_CONFLICT = reasons.ANON_CONFLICT
R_USER_NOT_FOUND = reasons.USER_NOT_FOUND
R_SYSTEM_EVENT = reasons.SYSTEM_EVENT
R_DEVICE_LIMIT = reasons.DEVICE_LIMIT
R_MISSING_ID = reasons.MISSING_ID
R_RESTRICTED = reasons.RESTRICTED
MAX_DEVICES = 1000
PLATFORMS = "platforms"  # MoEngage: the apps a user has, [{"platform": "ANDROID", "active": true}, ...]


def event_scope(name: str) -> str:
    return EVENT_SCOPE_PREFIX + name


class Planner:
    """Stateless; one instance serves every batch."""

    def needs(self, entries: Sequence[LogEntry]) -> Needs:
        identities: set[tuple[int, str, str]] = set()
        scopes: set[tuple[int, str]] = set()
        for entry in entries:
            acc = entry.account_id
            scopes.add((acc, USER_SCOPE))
            for record in entry.records:
                if type(record) is EventRecord:  # the common case, inlined
                    scopes.add((acc, EVENT_SCOPE_PREFIX + record.name))
                    if record.user_id is not None:
                        identities.add((acc, "u", record.user_id))
                    elif record.anonymous_id is not None:  # an event's anonymous id never matters with a user id
                        identities.add((acc, "a", record.anonymous_id))
                    continue
                for kind, value in _ids(record):
                    identities.add((acc, kind, value))
        return Needs(identities, scopes)

    def plan(self, entries: Sequence[LogEntry], state: State) -> Effects:
        batch = _Batch(state)
        for entry in entries:
            for position, record in enumerate(entry.records):
                batch.apply(entry, position, record)
        return batch.finish()


def merge_platforms(current: Any, update: Any) -> Any:
    """A platform update replaces that platform's entry and keeps the others. Total over any JSON:
    anything but a list replaces the value as is; names are compared as JSON, never hashed."""
    if not isinstance(update, list):
        return update
    names = [p.get("platform") for p in update if isinstance(p, dict)]
    if not isinstance(current, list):
        return update
    return [p for p in current if isinstance(p, dict) and not attrs.contains(names, p.get("platform"))] + update


def _ids(record: Any) -> Iterable[tuple[str, str]]:
    """Every identity a record may touch; ids are compared as given (an empty one included), exactly as
    the record's handler looks them up."""
    if isinstance(record, UserRecord | EventRecord):
        if record.user_id is not None:
            yield "u", record.user_id
        if record.anonymous_id is not None:
            yield "a", record.anonymous_id
    elif isinstance(record, DeviceRecord | DeleteRecord):
        yield "u", record.user_id
    elif isinstance(record, MergeRecord):
        yield "u", record.merged_user
        yield "u", record.retained_user


class _Context(NamedTuple):
    """Where a record came from, for rejections and event ids."""

    entry: LogEntry
    position: int
    kind: str
    user_id: str | None = None
    anonymous_id: str | None = None
    event_name: str | None = None


class _Batch:
    def __init__(self, state: State) -> None:
        self.state = state
        self.identities = dict(state.identities)
        self.profiles: dict[int, StoredProfile] = dict(state.profiles)
        self.schemas: dict[tuple[int, str], attrs.Schema] = {}
        self.redirect: dict[int, int] = {}
        self.dirty: set[int] = set()
        self.seen: set[int] = set()
        self.deleted: list[int] = []
        self.devices: dict[tuple[int, str], dict[str, Any] | None] = {}
        self.next_temp = -1
        self.event_names: set[str] = set()  # event names already checked in this batch
        self.fx = Effects()

    # ------------------------------------------------------------ dispatch

    def apply(self, entry: LogEntry, position: int, record: Any) -> None:
        if isinstance(record, EventRecord):
            self.event(_Context(entry, position, "event", record.user_id, record.anonymous_id, record.name), record)
        elif isinstance(record, UserRecord):
            self.user(_Context(entry, position, "user", record.user_id, record.anonymous_id), record)
        elif isinstance(record, DeviceRecord):
            self.device(_Context(entry, position, "device", record.user_id), record)
        elif isinstance(record, MergeRecord):
            self.merge_users(_Context(entry, position, "merge", record.retained_user), record)
        elif isinstance(record, DeleteRecord):
            self.delete_user(_Context(entry, position, "delete", record.user_id), record)

    # ------------------------------------------------------------ helpers

    def reject(self, ctx: _Context, issue: attrs.Issue) -> None:
        self.fx.rejections.append(
            RejectionRow(
                account_id=ctx.entry.account_id,
                log_id=ctx.entry.id,
                kind=ctx.kind,
                user_id=ctx.user_id,
                anonymous_id=ctx.anonymous_id,
                event_name=ctx.event_name,
                field=issue.field,
                reason=issue.reason,
                detail=issue.detail,
                value=issue.value,
                dropped=issue.dropped,
                at=ctx.entry.received_at,
            )
        )

    def reject_drops(self, ctx: _Context, drops: list[Drop]) -> None:
        for drop in drops:
            self.reject(
                ctx,
                attrs.Issue(drop.field, drop.reason, _DROP_DETAIL.get(drop.reason, drop.reason), drop.value),
            )

    def restricted(self, ctx: _Context, acc: int, *user_ids: str | None) -> bool:
        """Whether the record is for a user whose processing is restricted (GDPR): then it is dropped and
        recorded with the reason `restricted`, like any other drop."""
        for user_id in user_ids:
            if user_id is not None and (acc, user_id) in self.state.restricted:
                self.reject(ctx, attrs.Issue("userId", R_RESTRICTED, _RESTRICTED_DETAIL, None))
                return True
        return False

    def restricted_profile(self, ctx: _Context, acc: int, pid: int | None) -> bool:
        """The same for the profile an anonymous id leads to."""
        if pid is None or not self.state.restricted:
            return False
        return self.restricted(ctx, acc, self.profiles[pid].data.user_id)

    def lookup(self, acc: int, kind: str, value: str) -> int | None:
        pid = self.identities.get((acc, kind, value))
        while pid is not None and pid in self.redirect:
            pid = self.redirect[pid]
        return pid

    def create(self, acc: int, kind: str, value: str, at: int) -> int:
        pid = self.next_temp
        self.next_temp -= 1
        data = ProfileData(user_id=value if kind == "u" else None)
        self.profiles[pid] = StoredProfile(pid, acc, data)
        self.identities[(acc, kind, value)] = pid
        self.fx.new_profiles[pid] = acc
        self.stat(acc, "users" if kind == "u" else "anonymous_users", 1)
        self.dirty.add(pid)
        return pid

    def used(self, acc: int, names: Iterable[str], at: int) -> None:
        """Count accepted user attribute values (the data catalogue's counts and last seen)."""
        uses = self.fx.user_attribute_uses
        for name in names:
            seen = uses.get((acc, name))
            if seen is None:
                uses[(acc, name)] = [1, at, at]
                continue
            seen[0] += 1
            if at < seen[1]:
                seen[1] = at
            elif at > seen[2]:
                seen[2] = at

    def stat(self, acc: int, key: str, delta: int) -> None:
        counters = self.fx.stats.setdefault(acc, {"users": 0, "anonymous_users": 0, "events": 0})
        counters[key] += delta

    def schema(self, acc: int, scope: str) -> attrs.Schema:
        key = (acc, scope)
        schema = self.schemas.get(key)
        if schema is None:
            schema = self.schemas[key] = attrs.Schema(self.state.schemas.get(key, {}))
        return schema

    def absorb(
        self,
        ctx: _Context,
        from_pid: int,
        into_pid: int,
        anonymous_id: str | None,
        merged_user: str | None,
        kind: str,
    ) -> None:
        """Merge profile `from_pid` into `into_pid`: data, identities, devices, events, ledger."""
        source, target = self.profiles[from_pid], self.profiles[into_pid]
        merge_into(target.data, source.data)
        for device_id, device in source.devices.items():
            if device_id not in target.devices:
                target.devices[device_id] = device
                self.devices[(into_pid, device_id)] = device
        for key, pid in list(self.identities.items()):
            if pid == from_pid:
                self.identities[key] = into_pid
        self.redirect[from_pid] = into_pid
        self.deleted.append(from_pid)
        self.fx.moves.append((from_pid, into_pid))
        self.dirty.add(into_pid)
        acc = ctx.entry.account_id
        self.stat(acc, "users" if source.data.user_id else "anonymous_users", -1)
        self.fx.merges.append(
            MergeRow(
                acc,
                from_pid,
                into_pid,
                anonymous_id,
                merged_user,
                target.data.user_id,
                kind,
                ctx.entry.id,
                ctx.entry.received_at,
            )
        )

    # ------------------------------------------------------------ users

    def user(self, ctx: _Context, r: UserRecord) -> None:
        acc, at = ctx.entry.account_id, ctx.entry.received_at
        if self.state.restricted and (
            self.restricted(ctx, acc, r.user_id)
            or (r.user_id is None and r.anonymous_id is not None
                and self.restricted_profile(ctx, acc, self.lookup(acc, "a", r.anonymous_id)))
        ):  # fmt: skip
            return
        self.reject_drops(ctx, r.dropped)
        pid = self.resolve_user(ctx, r)
        if pid is None:
            return
        profile = self.profiles[pid]
        for key, value in r.system.items():
            if isinstance(value, str):
                value, cut = attrs.truncate(key, value)
                if cut is not None:
                    self.reject(ctx, cut)
            elif key == PLATFORMS:
                value = merge_platforms(profile.data.system.get(PLATFORMS), value)
            profile.data.system[key] = value
        kept, issues = attrs.clean_attributes("attributes", r.attributes, self.schema(acc, USER_SCOPE), at)
        for issue in issues:
            self.reject(ctx, issue)
        profile.data.attributes.update(kept)
        if kept:
            self.used(acc, kept, at)
        self.array_ops(ctx, profile.data, r)
        for rule in r.unset:
            for name in [
                n for n in profile.data.attributes if attrs.unset_matches(n, rule.match, rule.attr, rule.case_sensitive)
            ]:
                del profile.data.attributes[name]
        profile.data.seen(at)
        self.dirty.add(pid)

    def resolve_user(self, ctx: _Context, r: UserRecord) -> int | None:
        acc, at = ctx.entry.account_id, ctx.entry.received_at
        if r.user_id is None:
            if r.anonymous_id is None:
                self.reject(ctx, _MISSING_ID)
                return None
            pid = self.lookup(acc, "a", r.anonymous_id)
            if pid is None:
                if r.update_existing_only:
                    self.reject(
                        ctx,
                        attrs.Issue(
                            "anonymousId",
                            R_USER_NOT_FOUND,
                            "update_existing_only and no such user",
                            r.anonymous_id,
                        ),
                    )
                    return None
                pid = self.create(acc, "a", r.anonymous_id, at)
            return pid
        pid = self.lookup(acc, "u", r.user_id)
        if pid is None and r.update_existing_only:
            self.reject(
                ctx,
                attrs.Issue("customer_id", R_USER_NOT_FOUND, "update_existing_only and no such user", r.user_id),
            )
            return None
        if r.anonymous_id is None or not r.identify:
            return pid if pid is not None else self.create(acc, "u", r.user_id, at)
        anon_pid = self.lookup(acc, "a", r.anonymous_id)
        anon_owner = self.profiles[anon_pid].data.user_id if anon_pid is not None else None
        action = identify_action(pid, anon_pid, anon_owner)
        if action is Identify.PROMOTE:
            assert anon_pid is not None
            self.profiles[anon_pid].data.user_id = r.user_id
            self.identities[(acc, "u", r.user_id)] = anon_pid
            self.stat(acc, "anonymous_users", -1)
            self.stat(acc, "users", 1)
            self.fx.merges.append(
                MergeRow(acc, anon_pid, anon_pid, r.anonymous_id, None, r.user_id, "identify", ctx.entry.id, at)
            )
            return anon_pid
        if pid is None:
            pid = self.create(acc, "u", r.user_id, at)
        if action is Identify.LINK:
            self.identities[(acc, "a", r.anonymous_id)] = pid
        elif action is Identify.MERGE:
            assert anon_pid is not None
            self.absorb(ctx, anon_pid, pid, r.anonymous_id, None, "identify")
        elif action is Identify.CONFLICT:
            self.reject(
                ctx,
                attrs.Issue(
                    "anonymousId",
                    R_ANON_CONFLICT,
                    f"anonymous id already belongs to user '{anon_owner}'",
                    r.anonymous_id,
                ),
            )
        return pid

    def array_ops(self, ctx: _Context, data: ProfileData, r: UserRecord) -> None:
        schema = self.schema(ctx.entry.account_id, USER_SCOPE)
        for name, values in r.add_to_array.items():
            issue = attrs.name_issue(f"addValueToArrayField.{name}", name) or schema.admit(
                f"addValueToArrayField.{name}", name, attrs.ARRAY, values, ctx.entry.received_at
            )
            if issue is not None:
                self.reject(ctx, issue)
                continue
            data.attributes[name] = attrs.add_values(data.attributes.get(name), values)
            self.used(ctx.entry.account_id, (name,), ctx.entry.received_at)
        for name, values in r.remove_from_array.items():
            if name in data.attributes:
                if isinstance(data.attributes[name], list):
                    data.attributes[name] = attrs.remove_values(data.attributes[name], values)
                else:
                    self.reject(
                        ctx,
                        attrs.Issue(
                            f"removeValueFromArrayField.{name}",
                            attrs.R_TYPE_CONFLICT,
                            "attribute is not an array",
                            values,
                        ),
                    )

    # ------------------------------------------------------------ events

    def event(self, ctx: _Context, r: EventRecord) -> None:
        acc, entry = ctx.entry.account_id, ctx.entry
        if r.dropped:
            self.reject_drops(ctx, r.dropped)
        # A system event name is refused unless OpenEngage wrote the record (r.system); checked on every
        # record, as the cache of names seen below holds the names of both kinds.
        if r.name not in self.event_names or (not r.system and is_system_event(r.name)):
            name_problem = attrs.name_issue("eventName", r.name)
            if name_problem is None and is_system_event(r.name) and not r.system:
                name_problem = attrs.Issue(
                    "eventName", R_SYSTEM_EVENT, "system events cannot be created through the API"
                )
            if name_problem is not None:
                self.reject(
                    ctx,
                    dataclasses.replace(name_problem, detail="event dropped: " + name_problem.detail, value=r.name),
                )
                return
            self.event_names.add(r.name)
        kind, value = ("u", r.user_id) if r.user_id is not None else ("a", r.anonymous_id)
        if value is None:
            self.reject(ctx, dataclasses.replace(_MISSING_ID, detail="event dropped: " + _MISSING_ID.detail))
            return
        pid = self.lookup(acc, kind, value)
        if self.state.restricted and (self.restricted(ctx, acc, r.user_id) or self.restricted_profile(ctx, acc, pid)):
            return
        if pid is None:
            pid = self.create(acc, kind, value, entry.received_at)
        schema = self.schema(acc, event_scope(r.name))
        data, issues = attrs.clean_attributes("eventData", r.data, schema, entry.received_at)
        for issue in issues:
            self.reject(ctx, issue)
        time_ms = r.time_ms if r.time_ms is not None else entry.received_at
        self.fx.events.append(
            EventRow(
                (entry.id << 16) | ctx.position, acc, pid, r.user_id, r.anonymous_id, r.name, time_ms,
                r.time_text, data, r.context, entry.received_at,
            )
        )  # fmt: skip
        self.stat(acc, "events", 1)
        self.profiles[pid].data.seen(time_ms)
        self.seen.add(pid)

    # ------------------------------------------------------------ devices, merges, deletes (MoEngage)

    def device(self, ctx: _Context, r: DeviceRecord) -> None:
        acc = ctx.entry.account_id
        if self.restricted(ctx, acc, r.user_id):
            return
        self.reject_drops(ctx, r.dropped)
        pid = self.lookup(acc, "u", r.user_id)
        if pid is None:
            self.reject(
                ctx,
                attrs.Issue(
                    "customer_id",
                    R_USER_NOT_FOUND,
                    "devices can be created for existing users only",
                    r.user_id,
                ),
            )
            return
        profile = self.profiles[pid]
        device_id = r.device_id or f"{ctx.entry.id}-{ctx.position}"
        # A push id, GAID or IDFV already on another device of this user replaces that device.
        for key in ("push_id", "moe_gaid", "idfv"):
            value = r.attributes.get(key)
            if value is None:
                continue
            for other_id, other in list(profile.devices.items()):
                if other_id != device_id and attrs.same(other.get(key), value):
                    del profile.devices[other_id]
                    self.devices[(pid, other_id)] = None
        if device_id not in profile.devices and len(profile.devices) >= MAX_DEVICES:
            self.reject(
                ctx,
                attrs.Issue("device_id", R_DEVICE_LIMIT, f"a user may have at most {MAX_DEVICES} devices", device_id),
            )
            return
        merged = {**profile.devices.get(device_id, {}), **r.attributes, "device_id": device_id}
        profile.devices[device_id] = merged
        self.devices[(pid, device_id)] = merged
        profile.data.seen(ctx.entry.received_at)
        self.seen.add(pid)

    def merge_users(self, ctx: _Context, r: MergeRecord) -> None:
        acc = ctx.entry.account_id
        if self.restricted(ctx, acc, r.merged_user, r.retained_user):
            return
        merged = self.lookup(acc, "u", r.merged_user)
        retained = self.lookup(acc, "u", r.retained_user)
        if merged is None or retained is None:
            missing = r.merged_user if merged is None else r.retained_user
            field = "merged_user" if merged is None else "retained_user"
            self.reject(ctx, attrs.Issue(field, R_USER_NOT_FOUND, f"no user with customer id '{missing}'", missing))
            return
        if merged == retained:
            return
        self.absorb(ctx, merged, retained, None, r.merged_user, "merge")
        self.merge_events(ctx, r, retained)

    def merge_events(self, ctx: _Context, r: MergeRecord, pid: int) -> None:
        """The events MoEngage adds on a merge: MOE_USER_MERGE_EVENT for the merged user, MOE_USER_MERGED
        for the retained one. The merged profile is gone (its events moved), so both land on the retained
        profile's timeline, each under its own user id."""
        entry, acc = ctx.entry, ctx.entry.account_id
        data = {"merged_user": r.merged_user, "retained_user": r.retained_user}
        for offset, (name, user_id) in enumerate(
            ((MOE_USER_MERGE_EVENT, r.merged_user), (MOE_USER_MERGED, r.retained_user))
        ):
            # Ids of their own past every record's position (a merge request holds at most 50 pairs).
            event_id = (entry.id << 16) | (_SYNTHETIC_EVENTS + 2 * ctx.position + offset)
            self.fx.events.append(
                EventRow(event_id, acc, pid, user_id, None, name, entry.received_at, None, dict(data), {},
                         entry.received_at)
            )  # fmt: skip
            self.stat(acc, "events", 1)

    def delete_user(self, ctx: _Context, r: DeleteRecord) -> None:
        acc = ctx.entry.account_id
        pid = self.lookup(acc, "u", r.user_id)
        if pid is None:
            self.reject(
                ctx,
                attrs.Issue("identity_value", R_USER_NOT_FOUND, f"no user with customer id '{r.user_id}'", r.user_id),
            )
            return
        for key, owner in list(self.identities.items()):
            if owner == pid:
                del self.identities[key]
        profile = self.profiles[pid]
        for device_id in profile.devices:
            self.devices[(pid, device_id)] = None
        self.deleted.append(pid)
        self.redirect.pop(pid, None)
        self.stat(acc, "users" if profile.data.user_id else "anonymous_users", -1)

    # ------------------------------------------------------------ result

    def finish(self) -> Effects:
        fx = self.fx
        gone = set(self.deleted)
        for row_index, row in enumerate(fx.events):
            final = self.final(row.profile_id)
            if final != row.profile_id:
                fx.events[row_index] = row._replace(profile_id=final)
        for pid in self.dirty - gone:
            fx.profiles[pid] = self.profiles[pid]
        for pid in self.seen - self.dirty - gone:
            data = self.profiles[pid].data
            assert data.first_seen is not None and data.last_seen is not None
            fx.seen_only[pid] = (data.first_seen, data.last_seen)
        for key, pid in self.identities.items():
            if self.state.identities.get(key) != pid:
                fx.identities[key] = pid
        fx.forget = {key for key in self.state.identities if key not in self.identities}
        fx.deletes = list(self.deleted)
        fx.removed = {pid: self.profiles[pid] for pid in self.deleted if pid >= 0}
        fx.devices = {key: value for key, value in self.devices.items() if key[0] not in gone or value is None}
        for (acc, scope), schema in self.schemas.items():
            for name, (vtype, first_seen) in schema.added.items():
                fx.schema.append((acc, scope, name, vtype, first_seen))
        return fx

    def final(self, pid: int) -> int:
        while pid in self.redirect:
            pid = self.redirect[pid]
        return pid


_MISSING_ID = attrs.Issue("userId", R_MISSING_ID, "neither a userId nor an anonymousId")
_RESTRICTED_DETAIL = "processing of this user is restricted (GDPR restriction request): record dropped"
# Event ids are (log entry id << 16) | position; events the processor adds on a merge take positions
# from here up (2 per merge pair), above any record's position in a merge request.
_SYNTHETIC_EVENTS = 0x8000

_DROP_DETAIL = {
    reasons.UNKNOWN_FIELD: "field is not part of the API and was ignored",
    reasons.INVALID_VALUE: "value is not valid for this standard attribute and was ignored",
    reasons.RESERVED_NAME: "attribute name is reserved and was ignored",
    reasons.PLATFORM_MISMATCH: (
        "identifier does not belong to this platform (GAID on iOS, IDFV on ANDROID) and was dropped"
    ),
}
