"""Backend-neutral pieces of the store: admission (dedupe + rate limits), cursors, read shapes.

Both backends load the same facts with their own SQL and hand them to these pure functions, so the
rules for what a batch admits and what the read API returns are written once.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from openengage.rules.dates import format_ms
from openengage.rules.identity import ProfileData
from openengage.store.base import EventRow, MergeRow, Outcome, Profile, RejectionRow, Submission

WINDOW_MS = 60_000
REQUEST_ID_TTL_MS = 4 * 3600 * 1000

json_encode = msgspec.json.Encoder().encode
_decode_any = msgspec.json.Decoder()


def json_decode(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    return _decode_any.decode(raw)


def window_of(now_ms: int) -> int:
    return now_ms // WINDOW_MS


def reset_seconds(now_ms: int) -> int:
    """Seconds until the current one-minute window ends (at least 1)."""
    return max(1, -(-(WINDOW_MS - now_ms % WINDOW_MS) // 1000))


@dataclasses.dataclass
class Admission:
    """Decides, in acceptance order, what each Submission of a batch gets.

    `seen(sub)` says whether its request id was accepted within 4 hours; `used(account, bucket)`
    loads the count of the current window. Afterwards `accepted` lists what to append and
    `counters` what to write back.
    """

    now_ms: int
    seen: Callable[[Submission], bool]
    used: Callable[[int, str], int]
    counters: dict[tuple[int, str], int] = dataclasses.field(default_factory=dict)
    accepted: list[Submission] = dataclasses.field(default_factory=list)
    request_ids: set[tuple[int, str]] = dataclasses.field(default_factory=set)

    def count(self, account_id: int, bucket: str) -> int:
        key = (account_id, bucket)
        if key not in self.counters:
            self.counters[key] = self.used(account_id, bucket)
        return self.counters[key]

    def decide(self, batch: Sequence[Submission]) -> list[Outcome]:
        return [self._one(sub) for sub in batch]

    def _one(self, sub: Submission) -> Outcome:
        reset = reset_seconds(self.now_ms)
        charges = [(sub.bucket, sub.cost, sub.limit), *sub.extra_costs]
        charges = [c for c in charges if c[2] > 0 and c[1] > 0]
        rid = (sub.account_id, sub.request_id) if sub.request_id else None
        if rid is not None and (rid in self.request_ids or self.seen(sub)):
            return self._outcome("duplicate", sub, reset)
        for bucket, cost, limit in charges:
            if self.count(sub.account_id, bucket) + cost > limit:
                used = self.count(sub.account_id, bucket)
                return Outcome("limited", limit, max(0, limit - used), reset, bucket)
        for bucket, cost, _limit in charges:
            self.counters[(sub.account_id, bucket)] += cost
        if rid is not None:
            self.request_ids.add(rid)
        self.accepted.append(sub)
        return self._outcome("accepted", sub, reset)

    def _outcome(self, status: str, sub: Submission, reset: int) -> Outcome:
        if sub.limit <= 0:
            return Outcome(status, 0, 0, reset, sub.bucket)
        used = self.count(sub.account_id, sub.bucket)
        return Outcome(status, sub.limit, max(0, sub.limit - used), reset, sub.bucket)


def take_records(rows: Sequence[tuple[Any, ...]], limit: int, n_index: int = 3) -> list[tuple[Any, ...]]:
    """Entries in order until `limit` records (at least one entry)."""
    taken: list[tuple[Any, ...]] = []
    total = 0
    for row in rows:
        if taken and total + int(row[n_index]) > limit:
            break
        taken.append(row)
        total += int(row[n_index])
    return taken


# ---------------------------------------------------------------- effect rows, in table column order


def event_params(e: EventRow, pid: Callable[[int], int], encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """An `events` row; `encode` turns event data and context into the backend's JSON column value."""
    return (e.id, e.account_id, pid(e.profile_id), e.user_id, e.anonymous_id, e.name, e.time_ms, e.time_text,
            encode(e.data), encode(e.context) if e.context else None, e.received_at)  # fmt: skip


def merge_params(m: MergeRow, pid: Callable[[int], int]) -> tuple[Any, ...]:
    """A `merges` row; `pid` maps the Planner's temporary profile ids to stored ones."""
    return (m.account_id, pid(m.from_profile), pid(m.into_profile), m.anonymous_id, m.merged_user, m.user_id,
            m.kind, m.log_id, m.at)  # fmt: skip


def rejection_params(r: RejectionRow, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
    """A `rejections` row; `encode` turns the dropped value into the backend's JSON column value."""
    return (r.account_id, r.log_id, r.kind, r.user_id, r.anonymous_id, r.event_name, r.field, r.reason, r.detail,
            encode(r.value), r.dropped, r.at)  # fmt: skip


# ---------------------------------------------------------------- cursors


def encode_cursor(*parts: int) -> str:
    raw = ":".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> tuple[int, ...] | None:
    """None for no cursor; raises ValueError for a malformed one."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = tuple(int(p) for p in raw.split(":"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("malformed cursor") from None
    if len(parts) != arity:
        raise ValueError("malformed cursor")
    return parts


# ---------------------------------------------------------------- read shapes

MAX_INT = 2**63 - 1


def profile_doc(profile: Profile) -> dict[str, Any]:
    """A profile as the read API returns it: WebEngage system attribute names, custom `attributes`."""
    data = profile.data
    doc: dict[str, Any] = {"userId": data.user_id, "anonymousIds": profile.anonymous_ids}
    doc.update({"emailOptIn": True, "smsOptIn": True, "whatsappOptIn": False})
    doc.update(data.system)
    doc["attributes"] = data.attributes
    doc["firstSeen"] = format_ms(data.first_seen) if data.first_seen is not None else None
    doc["lastSeen"] = format_ms(data.last_seen) if data.last_seen is not None else None
    if profile.devices:
        doc["devices"] = profile.devices
    return doc


def profile_data(row: Sequence[Any]) -> ProfileData:
    """(.., user_id, system, attributes, first_seen, last_seen) from a profiles row (offset 2).

    The JSON columns are decoded lazily (see ProfileData); PostgreSQL drivers may hand over dicts.
    """
    system, attributes = row[3], row[4]
    if isinstance(system, dict):
        return ProfileData(row[2], system, attributes, row[5], row[6])
    return ProfileData.stored(row[2], system, attributes, row[5], row[6])


def event_item(row: Sequence[Any]) -> dict[str, Any]:
    """(id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at)."""
    item: dict[str, Any] = {
        "eventName": row[3],
        "eventTime": row[5] if row[5] is not None else format_ms(row[4]),
        "eventData": json_decode(row[6]),
        "userId": row[1],
        "anonymousId": row[2],
        "receivedAt": format_ms(row[8]),
    }
    context = json_decode(row[7])
    if context:
        item["context"] = context
    return item


def rejection_item(row: Sequence[Any]) -> dict[str, Any]:
    """(id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at)."""
    return {
        "id": row[0],
        "kind": row[2],
        "userId": row[3],
        "anonymousId": row[4],
        "eventName": row[5],
        "field": row[6],
        "reason": row[7],
        "detail": row[8],
        "value": json_decode(row[9]),
        "action": "dropped" if row[10] else "truncated",
        "at": format_ms(row[11]),
    }


def merge_item(row: Sequence[Any]) -> dict[str, Any]:
    """(id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at)."""
    return {
        "id": row[0],
        "kind": row[6],
        "userId": row[5],
        "anonymousId": row[3],
        "mergedUser": row[4],
        "fromProfile": row[1],
        "intoProfile": row[2],
        "at": format_ms(row[8]),
    }


def schema_doc(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """(scope, name, type, first_seen) rows to {"users": {...}, "events": {name: {...}}}."""
    users: dict[str, Any] = {}
    events: dict[str, dict[str, Any]] = {}
    for scope, name, vtype, first_seen in rows:
        entry = {"type": vtype, "firstSeen": format_ms(first_seen)}
        if scope == "user":
            users[name] = entry
        else:
            events.setdefault(scope.removeprefix("event:"), {})[name] = entry
    return {"users": users, "events": events}
