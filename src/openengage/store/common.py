"""Backend-neutral pieces of the store's hot paths and rows: admission (dedupe + rate limits), effect
rows, profile data, page cursors.

Both backends load the same facts with their own SQL and hand them to these pure functions, so the
rules for what a batch admits are written once. (Reads and administration are written once too, in
store/reads.py and store/admin.py; shaping rows for clients is the API's job, api/shapes.py.)
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from openengage.rules.identity import ProfileData
from openengage.rules.windows import WINDOW_MS as WINDOW_MS  # re-exported: the windows' home is rules/
from openengage.rules.windows import reset_seconds
from openengage.rules.windows import window_of as window_of
from openengage.store.base import (
    EventRow,
    InvalidCursor,
    MergeRow,
    Needs,
    Outcome,
    RejectionRow,
    StoredProfile,
    Submission,
)

REQUEST_ID_TTL_MS = 4 * 3600 * 1000

json_encode = msgspec.json.Encoder().encode
_decode_any = msgspec.json.Decoder()


def json_decode(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    return _decode_any.decode(raw)


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


def batch_accounts(needs: Needs) -> list[int]:
    """The accounts a batch writes for (every record names its account's user scope)."""
    return sorted({acc for acc, _ in needs.scopes})


def restriction_candidates(
    needs: Needs, profiles: Mapping[int, StoredProfile], accounts: Sequence[int] | None = None
) -> dict[int, list[str]]:
    """The known user ids a batch may write for, per account (of `accounts` only, when given: those with
    any restriction): those it names and those of the profiles it loaded (an anonymous id may lead to a
    user's profile). Their GDPR restrictions load with the State."""
    wanted = None if accounts is None else set(accounts)
    if wanted is not None and not wanted:
        return {}
    users: dict[int, set[str]] = {}
    for acc, kind, value in needs.identities:
        if kind == "u" and (wanted is None or acc in wanted):
            users.setdefault(acc, set()).add(value)
    for profile in profiles.values():
        if profile.data.user_id is not None and (wanted is None or profile.account_id in wanted):
            users.setdefault(profile.account_id, set()).add(profile.data.user_id)
    return {acc: sorted(ids) for acc, ids in users.items()}


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

MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
BAD_CURSOR = "cursor is not valid: pass the `next` value of the previous page"
_INT = re.compile(r"-?[0-9]{1,19}")  # what str(int) wrote; int() alone would take "+1", " 1", "1_0", "²"


def encode_cursor(*parts: int) -> str:
    raw = ":".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> tuple[int, ...] | None:
    """None for no cursor; InvalidCursor for one this store did not hand out.

    The parts must fit the 64-bit integers they are compared with: a forged 2**70 would otherwise reach
    the driver (OverflowError in sqlite3, an out-of-range error in PostgreSQL).
    """
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor(BAD_CURSOR) from None
    pieces = raw.split(":")
    if len(pieces) != arity or not all(_INT.fullmatch(p) for p in pieces):
        raise InvalidCursor(BAD_CURSOR)
    parts = tuple(int(p) for p in pieces)
    if not all(MIN_INT <= p <= MAX_INT for p in parts):
        raise InvalidCursor(BAD_CURSOR)
    return parts


def profile_data(row: Sequence[Any]) -> ProfileData:
    """(.., user_id, system, attributes, first_seen, last_seen) from a profiles row (offset 2).

    The JSON columns are decoded lazily (see ProfileData); PostgreSQL drivers may hand over dicts.
    """
    system, attributes = row[3], row[4]
    if isinstance(system, dict):  # kept as JSON: the planner changes the dicts, `loaded` must not change
        system, attributes = json_encode(system), json_encode(attributes)
    return ProfileData.stored(row[2], system, attributes, row[5], row[6])
