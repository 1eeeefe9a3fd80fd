"""Reads of the dashboard's data pages, written once over the Executor: users search and listing, what a
profile page adds to the profile, the live tail, the data catalogue and data quality.

Each is an index lookup or reads a table the processor maintains (store/derived.py), never a scan of
events: on 100,000 users and 1,000,000 events every page stays in the low milliseconds.

- search: exact user id and anonymous id (as typed) from `identities`, then `search_terms` in index
  order from the normalized query (rules/search.py): the value itself, then values beginning with it.
- listing without a query: known users by user id, from the (account_id, user_id) index.
- live tail: a bounded backward scan of the events' primary key (the newest TAIL_WINDOW events of the
  store), then `id > after` for what arrived since: no index on the hot path of event inserts.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import msgspec

from openengage.rules.search import normalize, prefix_end, profile_terms
from openengage.store.base import (
    CatalogEntry,
    Event,
    Executor,
    InvalidCursor,
    Merge,
    Page,
    Rejection,
    RejectionGroup,
    Row,
    UserHit,
)
from openengage.store.common import BAD_CURSOR, MAX_INT, json_decode, json_encode
from openengage.store.reads import _before_id, _by_id, event_of, merge_of, page, rejection_of

TAIL_WINDOW = 10_000  # the live tail's first screen looks at most this many of the newest events
MAX_GROUP_ROWS = 20_000  # rejection_counts rows read for the data-quality page (PostgreSQL: x partitions)
MAX_ANONYMOUS_IDS = 200  # a profile's anonymous ids whose rejections its page shows
SEARCH_ROUNDS = 4  # reads of the terms range per page, at most (rows of profiles listed already are skipped)
_MAX_CURSOR = 1000


def _text_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json_encode(list(values))).decode().rstrip("=")


def _read_text_cursor(cursor: str, shape: tuple[type, ...]) -> list[Any]:
    """A cursor of `_text_cursor`: a JSON list whose items have the types of `shape`, else InvalidCursor."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursor(BAD_CURSOR)
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor(BAD_CURSOR) from None
    if not isinstance(values, list) or len(values) != len(shape):
        raise InvalidCursor(BAD_CURSOR)
    for value, kind in zip(values, shape, strict=True):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidCursor(BAD_CURSOR)
        if isinstance(value, int) and not 0 <= value <= MAX_INT:
            raise InvalidCursor(BAD_CURSOR)
    return values


def _first_match(profile: Row, term: str) -> str | None:
    """The smallest searchable value of a hit_profiles row that begins with `term`."""
    terms = profile_terms(profile[1], _json_object(profile[2]), _json_object(profile[5]))
    return min((t for t in terms if t.startswith(term)), default=None)


def _json_object(raw: Any) -> dict[str, Any]:
    value = raw if isinstance(raw, dict) else json_decode(raw)
    return value if isinstance(value, dict) else {}


class Browse:
    """Mixed into each backend's store, which sets `ex`."""

    ex: Executor
    # How far before `after` the live tail looks again (event ids): PostgreSQL applies partitions in
    # parallel, so an event may be stored after events with higher ids; SQLite applies in id order.
    tail_lookback = 0

    # ------------------------------------------------------------ users

    async def _profile_rows(self, account_id: int, ids: list[int]) -> dict[int, Row]:
        if not ids:
            return {}
        return {int(r[0]): r for r in await self.ex.all("hit_profiles", account_id, self.in_list(ids))}

    async def _hits(self, rows: dict[int, Row], found: list[tuple[int, str, str]]) -> list[UserHit]:
        """UserHits for (profile id, field, term) in that order (profiles gone meanwhile are left out)."""
        anonymous = sorted({pid for pid, _, _ in found if pid in rows and rows[pid][1] is None})
        anon_ids: dict[int, str] = {}
        if anonymous:
            anon_ids = {int(r[0]): r[1] for r in await self.ex.all("hit_anonymous_ids", self.in_list(anonymous))}
        hits = []
        for pid, field, term in found:
            r = rows.get(pid)
            if r is not None:
                first = None if r[3] is None else int(r[3])
                last = None if r[4] is None else int(r[4])
                system, attributes = _json_object(r[2]), _json_object(r[5])
                hits.append(UserHit(pid, r[1], anon_ids.get(pid), field, term, system, first, last, attributes))
        return hits

    @staticmethod
    def in_list(values: list[Any]) -> Any:
        """A list as the backend's list parameter takes it: an array (PostgreSQL); SQLite's store overrides
        it with JSON text (its queries read lists with json_each)."""
        return values

    async def search_users(self, account_id: int, q: str, limit: int, cursor: str | None) -> Page[UserHit]:
        """Profiles whose user id or anonymous id is `q` exactly (first), then those with a searchable
        value equal to the normalized `q` or beginning with it, in value order (so exact values first);
        each profile once, at its first matching value. A blank `q` lists users (list_users).

        The range of search_terms is read in primary-key order; a row counts only if its term is the
        smallest matching term of the profile as it is now (computed from the profile, which the page
        shows anyway): that keeps each profile to one row across all pages without a second index."""
        term = normalize(q)
        if not term:
            return await self.list_users(account_id, limit, cursor)
        exact: list[tuple[int, str, str]] = []
        for kind, field in (("u", "userId"), ("a", "anonymousId")):
            row = await self.ex.one("identity_get", account_id, kind, q)
            if row is not None:
                exact.append((int(row[0]), field, q))
        skip = {pid for pid, _, _ in exact}
        if cursor is None:
            position: tuple[str, int] = (term, -1)
        else:
            start_term, start_pid = _read_text_cursor(cursor, (str, int))
            if not start_term.startswith(term):
                raise InvalidCursor(BAD_CURSOR)
            position = (start_term, start_pid)
        rows_of = await self._profile_rows(account_id, sorted(skip)) if cursor is None else {}
        first_page = [] if cursor is not None else list(exact)
        taken: list[tuple[int, str, str]] = []

        async def done(nxt: str | None) -> Page[UserHit]:
            return Page(await self._hits(rows_of, first_page + taken), nxt)

        fetch = 2 * limit + 1
        for _ in range(SEARCH_ROUNDS):
            rows = await self.ex.all("search_range", account_id, position[0], position[1], prefix_end(term), fetch)
            rows_of.update(await self._profile_rows(account_id, sorted({int(r[1]) for r in rows} - set(rows_of))))
            for term_, pid_, field in rows:
                pid = int(pid_)
                profile = rows_of.get(pid)
                if pid not in skip and profile is not None and _first_match(profile, term) == term_:
                    if len(taken) == limit:  # one more to show: the next page starts after the last one taken
                        return await done(_text_cursor([taken[-1][2], taken[-1][0]]))
                    taken.append((pid, str(field), str(term_)))
                position = (str(term_), pid)
            if len(rows) < fetch:
                return await done(None)  # the range is exhausted
        # SEARCH_ROUNDS reads without a full page (profiles with many matching values): go on from here
        return await done(_text_cursor([position[0], position[1]]))

    async def list_users(self, account_id: int, limit: int, cursor: str | None) -> Page[UserHit]:
        """Known users in user id order (byte order on SQLite; the database's collation on PostgreSQL)."""
        if cursor is None:
            rows = await self.ex.all("users_first", account_id, "", limit + 1)
        else:
            (after,) = _read_text_cursor(cursor, (str,))
            rows = await self.ex.all("users_after", account_id, after, limit + 1)

        def hit(r: Row) -> UserHit:
            first = None if r[3] is None else int(r[3])
            last = None if r[4] is None else int(r[4])
            return UserHit(int(r[0]), r[1], None, "", "", _json_object(r[2]), first, last, _json_object(r[5]))

        return page(rows, limit, hit, lambda r: _text_cursor([r[1]]))

    # ------------------------------------------------------------ a profile's page

    async def user_schema(self, account_id: int) -> dict[str, str]:
        """Custom user attributes and their locked types."""
        return {r[0]: r[1] for r in await self.ex.all("schema_scope", account_id, "user")}

    async def profile_merges(self, account_id: int, profile_id: int, limit: int) -> list[Merge]:
        """Merges into this profile, newest first."""
        return [merge_of(r) for r in await self.ex.all("merges_into_profile", profile_id, account_id, limit)]

    async def profile_rejections(
        self, account_id: int, user_id: str | None, anonymous_ids: Sequence[str], limit: int, cursor: str | None
    ) -> Page[Rejection]:
        """What was dropped or truncated for this person, newest first: rejections of the user id, and of
        its anonymous ids recorded before any user id was known (at most MAX_ANONYMOUS_IDS of them)."""
        before = _before_id(cursor)
        anon = list(anonymous_ids)[:MAX_ANONYMOUS_IDS]
        n = limit + 1
        rows = await self.ex.all(
            "rejections_of_profile", account_id, user_id, before, n, account_id, self.in_list(anon), before, n, n
        )
        return page(rows, limit, rejection_of, _by_id)

    # ------------------------------------------------------------ live tail

    async def profile_id(self, account_id: int, kind: str, value: str) -> int | None:
        """The profile of a user id (`u`) or anonymous id (`a`): one index lookup."""
        row = await self.ex.one("identity_get", account_id, kind, value)
        return None if row is None else int(row[0])

    async def latest_event_id(self) -> int:
        row = await self.ex.one("events_max_id")
        return 0 if row is None else int(row[0])

    async def recent_events(self, account_id: int, name: str | None, profile_id: int | None, limit: int) -> list[Event]:
        """The newest events (of one profile, of one name), newest first. Without a profile only the
        newest TAIL_WINDOW events of the store are looked at."""
        if profile_id is not None:
            rows = await self.ex.all("tail_recent_profile", profile_id, account_id, name, name, limit)
        else:
            rows = await self.ex.all("tail_after", -1, TAIL_WINDOW, account_id, name, name, limit)
        return [event_of(r) for r in rows]

    async def tail_events(
        self, account_id: int, after_id: int, name: str | None, profile_id: int | None, limit: int
    ) -> list[Event]:
        """The newest `limit` events stored after event id `after_id` (of one profile, of one name), oldest
        first, among the newest TAIL_WINDOW of the store. A store that applies out of id order looks
        `tail_lookback` ids further back (the caller drops what it has): a live view, which shows the
        newest when more arrived than it can take."""
        after_id = max(0, after_id - self.tail_lookback)
        if profile_id is not None:
            rows = await self.ex.all(
                "tail_after_profile", after_id, TAIL_WINDOW, profile_id, account_id, name, name, limit
            )
        else:
            rows = await self.ex.all("tail_after", after_id, TAIL_WINDOW, account_id, name, name, limit)
        return [event_of(r) for r in reversed(rows)]

    # ------------------------------------------------------------ catalogue and data quality

    async def catalogue(self, account_id: int) -> list[CatalogEntry]:
        """Events, then their attributes and the user attributes, with type, first/last seen and counts;
        by scope, then name (byte order)."""
        counts = {(r[0], r[1]): r for r in await self.ex.all("catalogue_counts", account_id)}
        out: dict[tuple[str, str], CatalogEntry] = {}
        for scope, name, vtype, first_seen in await self.ex.all("schema_all", account_id):
            c = counts.get((scope, name))
            last = None if c is None else int(c[4])
            out[(scope, name)] = CatalogEntry(scope, name, vtype, int(first_seen), last, 0 if c is None else int(c[2]))
            if scope.startswith("event:"):
                out.setdefault(("event", scope.removeprefix("event:")), CatalogEntry("event", scope[6:], None,
                                                                                     None, None, 0))  # fmt: skip
        for (scope, name), c in counts.items():
            if scope == "event":
                out[(scope, name)] = CatalogEntry(scope, name, None, int(c[3]), int(c[4]), int(c[2]))
        return [out[k] for k in sorted(out, key=lambda k: (k[0].encode(), k[1].encode()))]

    async def rejection_groups(self, account_id: int) -> list[RejectionGroup]:
        """Every group of rejections (reason, event name, field), by reason, then most frequent first."""
        merged: dict[tuple[str, str, str], list[Any]] = {}
        for r in await self.ex.all("rejection_groups", account_id, MAX_GROUP_ROWS):
            key = (r[0], r[1], r[2])
            seen = merged.get(key)
            if seen is None:
                merged[key] = [int(r[3]), int(r[4]), int(r[5]), r]
            else:  # PostgreSQL: one row per partition
                seen[0] += int(r[3])
                seen[1] = min(seen[1], int(r[4]))
                if int(r[5]) >= seen[2]:
                    seen[2], seen[3] = int(r[5]), r
        groups = [
            RejectionGroup(k[0], k[1], k[2], n, first, last, json_decode(r[6]), r[7], r[8], r[9], bool(r[10]))
            for k, (n, first, last, r) in merged.items()
        ]
        groups.sort(key=lambda g: (g.reason, -g.count, g.event_name, g.field))
        return groups

    async def rejection_examples(
        self, account_id: int, reason: str, event_name: str, field: str, limit: int, cursor: str | None
    ) -> Page[Rejection]:
        """The rejections of one group, newest first."""
        rows = await self.ex.all(
            "rejections_of_group", account_id, reason, field[:200], event_name[:200], _before_id(cursor), limit + 1
        )
        return page(rows, limit, rejection_of, _by_id)
