"""Rows the processor keeps beside the data for the dashboard's pages, computed from a batch's Effects.

Backend-neutral and pure: each backend's `write` calls these once per batch and writes the rows with
its own SQL (sqlite/derived.py, postgres/derived.py), in the batch's transaction. Everything here is
set-wise: one pass over the batch's effects, then a few multi-row statements.

- search terms (the users page): the searchable values of every profile the batch wrote
  (rules/search.py), diffed against the terms stored for it, so an update that changes no searchable
  value writes nothing; a profile deleted or merged away loses its terms.
- data counts (the data catalogue): per event name, events received; per event attribute, events that
  carried it; per custom user attribute, values accepted (Effects.user_attribute_uses, counted by the
  planner); each with the first and last time (received_at).
- rejection counts (data quality): per (reason, event name, field), how many, first and last time, and
  the latest example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from openengage.rules.search import profile_terms
from openengage.store.base import Effects

GROUP_KEY_CHARS = 200  # rejection groups key on the first 200 characters of a field or event name
EVENT_SCOPE = "event"  # data_counts scope of the events themselves ("event:<name>" for their attributes)

Terms = dict[str, str]  # term -> field


def written_profiles(fx: Effects, pid: Callable[[int], int]) -> dict[int, tuple[int, Terms]]:
    """{stored profile id: (account, terms)} of every profile the batch writes and keeps."""
    gone = set(fx.deletes)
    out: dict[int, tuple[int, Terms]] = {}
    for temp, stored in fx.profiles.items():
        if temp in gone:
            continue
        d = stored.data
        out[pid(temp)] = (stored.account_id, profile_terms(d.user_id, d.system, d.attributes))
    return out


def existing_ids(fx: Effects, pid: Callable[[int], int]) -> list[int]:
    """Stored ids of the written profiles that existed before the batch (whose old terms to load)."""
    gone = set(fx.deletes)
    return sorted(pid(i) for i in fx.profiles if i >= 0 and i not in gone)


def dropped_ids(fx: Effects, pid: Callable[[int], int]) -> list[int]:
    """Stored ids of the profiles the batch deletes or merges away (their terms go)."""
    return sorted({pid(i) for i in fx.deletes if i >= 0})


def term_changes(
    written: Mapping[int, tuple[int, Terms]], old: Mapping[int, Terms]
) -> tuple[list[tuple[int, str]], list[tuple[int, str, int, str]]]:
    """(deletes: (profile, term), puts: (profile, term, account, field)) turning `old` into `written`."""
    deletes: list[tuple[int, str]] = []
    puts: list[tuple[int, str, int, str]] = []
    for profile_id, (account_id, terms) in written.items():
        before = old.get(profile_id, {})
        deletes.extend((profile_id, term) for term in before if term not in terms)
        puts.extend((profile_id, t, account_id, f) for t, f in terms.items() if before.get(t) != f)
    deletes.sort()
    puts.sort()
    return deletes, puts


def data_counts(fx: Effects) -> list[tuple[int, str, str, int, int, int]]:
    """(account, scope, name, count, first seen, last seen) to add, one row per key."""
    acc: dict[tuple[int, str, str], list[int]] = {}

    def add(key: tuple[int, str, str], n: int, first: int, last: int) -> None:
        seen = acc.get(key)
        if seen is None:
            acc[key] = [n, first, last]
        else:
            seen[0] += n
            if first < seen[1]:
                seen[1] = first
            if last > seen[2]:
                seen[2] = last

    for e in fx.events:
        at = e.received_at
        add((e.account_id, EVENT_SCOPE, e.name), 1, at, at)
        if e.data:
            scope = "event:" + e.name
            for name in e.data:
                add((e.account_id, scope, name), 1, at, at)
    for (account_id, name), (n, first, last) in fx.user_attribute_uses.items():
        add((account_id, "user", name), n, first, last)
    return sorted((a, s, n, c, f, last) for (a, s, n), (c, f, last) in acc.items())


def rejection_counts(fx: Effects, encode: Callable[[Any], Any]) -> list[tuple[Any, ...]]:
    """(account, reason, event name, field, count, first, last, example value, detail, user id,
    anonymous id, dropped) to add, one row per group; the example is the group's last in the batch."""
    groups: dict[tuple[int, str, str, str], list[Any]] = {}
    for r in fx.rejections:
        key = (r.account_id, r.reason, (r.event_name or "")[:GROUP_KEY_CHARS], r.field[:GROUP_KEY_CHARS])
        seen = groups.get(key)
        if seen is None:
            groups[key] = [1, r.at, r.at, r]
        else:
            seen[0] += 1
            seen[1] = min(seen[1], r.at)
            if r.at >= seen[2]:
                seen[2], seen[3] = r.at, r
    rows = []
    for (account_id, reason, event_name, field), (n, first, last, r) in sorted(groups.items(), key=lambda kv: kv[0]):
        rows.append((account_id, reason, event_name, field, n, first, last, encode(r.value), r.detail, r.user_id,
                     r.anonymous_id, r.dropped))  # fmt: skip
    return rows


def old_terms(rows: Iterable[tuple[Any, ...]]) -> dict[int, Terms]:
    """{profile: {term: field}} from (profile_id, term, field) rows."""
    out: dict[int, Terms] = {}
    for profile_id, term, field in rows:
        out.setdefault(int(profile_id), {})[str(term)] = str(field)
    return out
