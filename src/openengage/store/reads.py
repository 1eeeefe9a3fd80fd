"""Reads, written once for every backend over its Executor: typed rows, each query scoped to its account.

Each backend's queries.sql defines the queries named here, with the same columns and parameters in the
same order. The rows become the typed rows of store/base.py; what a client sees of them is the API's
business (api/shapes.py) or the dashboard's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from openengage.store.base import (
    AuditEntry,
    Event,
    Executor,
    Merge,
    Page,
    Profile,
    Rejection,
    Row,
    SchemaAttribute,
    Stats,
)
from openengage.store.common import MAX_INT, decode_cursor, encode_cursor, json_decode, profile_data

T = TypeVar("T")


# ---------------------------------------------------------------- rows -> typed rows


def event_of(r: Row) -> Event:
    """(id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at)."""
    return Event(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5], json_decode(r[6]), json_decode(r[7]), int(r[8]))


def rejection_of(r: Row) -> Rejection:
    """(id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at)."""
    return Rejection(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], json_decode(r[9]), bool(r[10]),
                     int(r[11]))  # fmt: skip


def merge_of(r: Row) -> Merge:
    """(id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at)."""
    return Merge(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5], r[6], int(r[7]), int(r[8]))


def audit_of(r: Row) -> AuditEntry:
    """(id, account_id, at, actor, address, action, target, detail)."""
    return AuditEntry(int(r[0]), int(r[1]), int(r[2]), r[3], r[4], r[5], r[6], r[7])


def page(rows: Sequence[Row], limit: int, convert: Callable[[Row], T], cursor: Callable[[Row], str]) -> Page[T]:
    """A page from `limit + 1` rows: the extra row only says that there is a next page."""
    nxt = cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page([convert(r) for r in rows[:limit]], nxt)


def _by_id(row: Row) -> str:
    return encode_cursor(int(row[0]))


def _before_id(cursor: str | None) -> int:
    return (decode_cursor(cursor, 1) or (MAX_INT,))[0]


# ---------------------------------------------------------------- the reads


class Reads:
    """Mixed into each backend's store, which sets `ex`."""

    ex: Executor

    async def profile(self, account_id: int, kind: str, value: str) -> Profile | None:
        ident = await self.ex.one("identity_get", account_id, kind, value)
        if ident is None:
            return None
        return await self.profile_by_id(account_id, int(ident[0]))

    async def profile_by_id(self, account_id: int, profile_id: int) -> Profile | None:
        """A profile by its internal id (what the MoEngage dialect shows as the MoEngage ID)."""
        row = await self.ex.one("profile_get", profile_id, account_id)
        if row is None:
            return None
        anon = [r[0] for r in await self.ex.all("profile_anonymous_ids", row[0])]
        devices: list[dict[str, Any]] = [json_decode(r[0]) for r in await self.ex.all("profile_devices", row[0])]
        return Profile(int(row[0]), int(row[1]), profile_data(row), anon, devices)

    async def events(self, account_id: int, profile_id: int, limit: int, cursor: str | None) -> Page[Event]:
        """A profile's events, newest first (event time, then acceptance order)."""
        after = decode_cursor(cursor, 2) or (MAX_INT, MAX_INT)
        rows = await self.ex.all("events_page", profile_id, account_id, after[0], after[1], limit + 1)
        return page(rows, limit, event_of, lambda r: encode_cursor(int(r[4]), int(r[0])))

    async def profiles_after(self, account_id: int, after_id: int, limit: int) -> list[Profile]:
        """The account's profiles in id order after `after_id`, with their anonymous ids, without devices
        (for streaming every profile out: `openengage export`)."""
        rows = await self.ex.all("profiles_after", account_id, after_id, limit)
        if not rows:
            return []
        anon: dict[int, list[str]] = {}
        for pid, value in await self.ex.all("anonymous_ids_between", account_id, rows[0][0], rows[-1][0]):
            anon.setdefault(int(pid), []).append(value)
        return [Profile(int(r[0]), int(r[1]), profile_data(r), anon.get(int(r[0]), []), []) for r in rows]

    async def events_after(self, account_id: int, after_id: int, limit: int) -> list[Event]:
        """The account's events in acceptance order after event id `after_id` (for streaming them out)."""
        return [event_of(r) for r in await self.ex.all("events_after", account_id, after_id, limit)]

    async def stats(self, account_id: int) -> Stats:
        """Counters and what is still pending, from one statement: one snapshot, so they agree."""
        row = await self.ex.one("stats_get", account_id, account_id)
        assert row is not None
        return Stats(int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    async def backlog(self) -> tuple[int, int | None]:
        """(records accepted and not yet applied, in every account; when the oldest was accepted, in ms)."""
        row = await self.ex.one("backlog")
        assert row is not None
        return int(row[0]), None if row[1] is None else int(row[1])

    async def schema(self, account_id: int) -> list[SchemaAttribute]:
        """The attribute catalogue, by scope then name (byte order on every backend)."""
        rows = await self.ex.all("schema_all", account_id)
        return [SchemaAttribute(r[0], r[1], r[2], int(r[3])) for r in rows]

    async def rejections(self, account_id: int, limit: int, cursor: str | None, user_id: str | None) -> Page[Rejection]:
        rows = await self.ex.all("rejections_page", account_id, _before_id(cursor), user_id, user_id, limit + 1)
        return page(rows, limit, rejection_of, _by_id)

    async def merges(self, account_id: int, limit: int, cursor: str | None) -> Page[Merge]:
        rows = await self.ex.all("merges_page", account_id, _before_id(cursor), limit + 1)
        return page(rows, limit, merge_of, _by_id)

    async def audit(self, account_id: int, limit: int, cursor: str | None) -> Page[AuditEntry]:
        """The account's audit log, newest first."""
        rows = await self.ex.all("audit_page", account_id, _before_id(cursor), limit + 1)
        return page(rows, limit, audit_of, _by_id)
