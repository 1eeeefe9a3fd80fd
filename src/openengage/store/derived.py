"""Rows the processor keeps beside the data for the dashboard's pages, computed from a batch's Effects.

Backend-neutral and pure: each backend's `write` calls these once per batch and writes the rows with
its own SQL (sqlite/derived.py, postgres/derived.py), in the batch's transaction. Everything here is
set-wise: one pass over the batch's effects, then a few multi-row statements.

- search terms (the users page): the searchable values of every profile the batch wrote
  (rules/search.py), diffed against the values it had when the batch loaded it (ProfileData.loaded:
  nothing is read back), so an update that changes no searchable value writes nothing; a profile
  deleted or merged away loses its terms (Effects.removed: as loaded).
- data counts (the data catalogue): per event name, events received; per event attribute, events that
  carried it; per custom user attribute, values accepted (Effects.user_attribute_uses, counted by the
  planner); each with the first and last time (received_at).
- rejection counts (data quality): per (reason, event name, field), how many, first and last time, and
  the latest example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from openengage.rules.identity import ProfileData
from openengage.rules.search import profile_terms
from openengage.store.base import Effects

encode = msgspec.json.Encoder().encode
GROUP_KEY_CHARS = 200  # rejection groups key on the first 200 characters of a field or event name
EVENT_SCOPE = "event"  # data_counts scope of the events themselves ("event:<name>" for their attributes)

Terms = dict[str, str]  # term -> field
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def loaded_terms(data: ProfileData) -> Terms:
    """The terms of a profile as it was loaded (what search_terms holds for it); {} for a new one."""
    if data.loaded is None:
        return {}
    user_id, system, attributes = data.loaded
    return profile_terms(user_id, _decode(system), _decode(attributes))


def term_changes(fx: Effects, pid: Callable[[int], int]) -> tuple[list[tuple[int, str, int]], list[tuple[Any, ...]]]:
    """(deletes: (account, term, profile), puts: (account, term, profile, field)) that bring search_terms
    from what the batch's profiles were when loaded to what the batch writes (and removes)."""
    gone = set(fx.deletes)
    deletes: list[tuple[int, str, int]] = []
    puts: list[tuple[Any, ...]] = []
    for temp, stored in fx.profiles.items():
        if temp in gone:
            continue
        d, acc, real = stored.data, stored.account_id, pid(temp)
        loaded = d.loaded
        if (
            loaded is not None
            and d.user_id == loaded[0]
            and encode(d.system) == _bytes(loaded[1])
            and encode(d.attributes) == _bytes(loaded[2])
        ):
            continue  # nothing searchable changed (first/last seen, say)
        new, old = profile_terms(d.user_id, d.system, d.attributes), loaded_terms(d)
        deletes.extend((acc, term, real) for term in old if term not in new)
        puts.extend((acc, term, real, field) for term, field in new.items() if old.get(term) != field)
    for removed_pid, stored in fx.removed.items():
        deletes.extend((stored.account_id, term, removed_pid) for term in loaded_terms(stored.data))
    deletes.sort()
    puts.sort()
    return deletes, puts


def _bytes(raw: bytes | str) -> bytes:
    return raw.encode() if isinstance(raw, str) else bytes(raw)


def data_counts(fx: Effects) -> list[tuple[int, str, str, int, int, int]]:
    """(account, scope, name, count, first seen, last seen) to add, one row per key. Events are grouped
    by (account, name, attribute names) first: one dictionary update per event on the hot path."""
    shapes: dict[tuple[int, str, tuple[str, ...]], list[int]] = {}
    for e in fx.events:
        at = e.received_at
        key = (e.account_id, e.name, tuple(e.data))
        seen = shapes.get(key)
        if seen is None:
            shapes[key] = [1, at, at]
            continue
        seen[0] += 1
        if at < seen[1]:
            seen[1] = at
        elif at > seen[2]:
            seen[2] = at
    acc: dict[tuple[int, str, str], list[int]] = {}

    def add(key: tuple[int, str, str], n: int, first: int, last: int) -> None:
        seen = acc.get(key)
        if seen is None:
            acc[key] = [n, first, last]
        else:
            seen[0] += n
            seen[1] = min(seen[1], first)
            seen[2] = max(seen[2], last)

    for (account_id, name, keys), (n, first, last) in shapes.items():
        add((account_id, EVENT_SCOPE, name), n, first, last)
        scope = "event:" + name
        for attribute in keys:
            add((account_id, scope, attribute), n, first, last)
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
