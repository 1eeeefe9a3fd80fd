"""Data catalogue: the events and attributes this account has received, with their locked types, first
and last seen and counts, and how much of the 25-per-type allowance each scope uses (user attributes:
per account; event attributes: per event name). Everything comes from the attribute schema and the
counters the processor keeps (store/derived.py): no scan of events. Needs View Dashboard."""

from __future__ import annotations

import dataclasses

from starlette.responses import Response

from openengage.accounts import VIEW_DASHBOARD
from openengage.dashboard.pages import Context, page
from openengage.rules.attributes import MAX_PER_TYPE, TYPES
from openengage.store.base import CatalogEntry

EVENTS_SHOWN = 1000  # event names on the page, by name (nothing limits how many names clients send)


@dataclasses.dataclass(frozen=True)
class Usage:
    """Custom attributes of one scope per type, against the limit."""

    counts: dict[str, int]

    @property
    def full(self) -> list[str]:
        return [t for t in TYPES if self.counts.get(t, 0) >= MAX_PER_TYPE]

    @property
    def summary(self) -> str:
        used = [f"{t} {self.counts[t]}/{MAX_PER_TYPE}" for t in TYPES if self.counts.get(t)]
        return ", ".join(used) or "none"


def usage(entries: list[CatalogEntry]) -> Usage:
    counts: dict[str, int] = {}
    for e in entries:
        if e.type is not None:
            counts[e.type] = counts.get(e.type, 0) + 1
    return Usage(counts)


@dataclasses.dataclass(frozen=True)
class EventEntry:
    event: CatalogEntry
    attributes: list[CatalogEntry]
    usage: Usage


@page("data", VIEW_DASHBOARD, nav="Data")
async def data(ctx: Context) -> Response:
    entries = await ctx.store.catalogue(ctx.account_id)
    users = [e for e in entries if e.scope == "user"]
    by_scope: dict[str, list[CatalogEntry]] = {}
    for e in entries:
        if e.scope.startswith("event:"):
            by_scope.setdefault(e.scope, []).append(e)
    events = []
    for e in entries:
        if e.scope == "event":
            attributes = by_scope.get("event:" + e.name, [])
            events.append(EventEntry(e, attributes, usage(attributes)))
    return ctx.render(
        "data.html",
        title="Data",
        users=users,
        user_usage=usage(users),
        events=events[:EVENTS_SHOWN],
        events_hidden=max(0, len(events) - EVENTS_SHOWN),
        types=TYPES,
        limit=MAX_PER_TYPE,
    )
