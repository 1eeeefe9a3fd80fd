"""Live events: the account's newest events, and new ones as the processor stores them (no reload).

The page lists the newest events (filtered by event name and by user), then static/tail.js asks
`events/feed?after=ID` every two seconds for what was stored since (JSON; its values are put in the page
as text, never as markup). Polling, not a stream: each poll is one indexed query (`id > after`) on
whichever node answers, so a cluster needs no fan-out and a tail costs the server almost nothing. The
tail shows events after processing: what was stored, on the profile it landed on. Needs View Profiles
(DESIGN: "live events").
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.responses import Response

from openengage.accounts import VIEW_PROFILES
from openengage.dashboard import links
from openengage.dashboard.pages import Context, page
from openengage.dashboard.render import shorten, when
from openengage.store.base import Event

FIRST = 50  # events on the page when it opens
FEED_MAX = 100  # events in one poll's answer: the newest, when more arrived (a live view, not an export)
POLL_SECONDS = 2
MAX_FILTER = 1000
DATA_CHARS = 300
_ID = re.compile(r"[0-9]{1,19}")
_encode = msgspec.json.Encoder().encode


def _json(body: dict[str, Any], status: int = 200) -> Response:
    """JSON with <, > and & escaped (\\u003c...): even a client that sniffs it as HTML finds no markup."""
    raw = _encode(body).replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    return Response(raw, status, media_type="application/json")


async def _filters(ctx: Context) -> tuple[str | None, str | None, int | None, bool]:
    """(event name, user, its profile id, unknown user?) from the query string."""
    params = ctx.request.query_params
    name = params.get("name", "")[:MAX_FILTER] or None
    user = params.get("user", "")[:MAX_FILTER] or None
    if user is None:
        return name, None, None, False
    pid = await ctx.store.profile_id(ctx.account_id, "u", user)
    if pid is None:
        pid = await ctx.store.profile_id(ctx.account_id, "a", user)
    return name, user, pid, pid is None


def _shown(ctx: Context, e: Event) -> dict[str, Any]:
    """An event as the page shows it (and the feed sends it): text only, links built here."""
    profile = links.profile_path(e.user_id, None if e.user_id is not None else e.anonymous_id)
    trace = links.trace_path(e)
    return {
        "id": str(e.id),
        "time": when(e.time_ms),
        "received": when(e.received_at),
        "name": e.name,
        "user": e.user_id if e.user_id is not None else (e.anonymous_id or ""),
        "anonymous": e.user_id is None,
        "profile": None if profile is None else ctx.url(profile),
        "data": shorten(links.display(e.data), DATA_CHARS),
        "trace": None if trace is None else ctx.url(trace),
    }


def _query(name: str | None, user: str | None) -> dict[str, str]:
    return {k: v for k, v in (("name", name), ("user", user)) if v is not None}


@page("events", VIEW_PROFILES, nav="Live events")
async def events(ctx: Context) -> Response:
    name, user, pid, unknown = await _filters(ctx)
    found = [] if unknown else await ctx.store.recent_events(ctx.account_id, name, pid, FIRST)
    after = max((e.id for e in found), default=0) or await ctx.store.latest_event_id()
    return ctx.render(
        "events.html",
        title="Live events",
        name=name or "",
        user=user or "",
        unknown=unknown,
        rows=[_shown(ctx, e) for e in found],
        after=str(after),
        feed=ctx.url("events/feed", **_query(name, user)),
        poll_ms=POLL_SECONDS * 1000,
        first=FIRST,
    )


@page("events/feed", VIEW_PROFILES)
async def feed(ctx: Context) -> Response:
    """JSON: {"events": [oldest first], "after": the id to ask after next time}. The script drops events
    it shows already (a PostgreSQL store sends some again: Store.tail_lookback)."""
    raw = ctx.request.query_params.get("after", "0")
    if not _ID.fullmatch(raw) or int(raw) > 2**63 - 1:
        return _json({"error": "after must be an event id (digits)"}, 400)
    after = int(raw)
    name, _, pid, unknown = await _filters(ctx)
    # Everything up to the newest id stored before the scan has been looked at (stores apply in id order,
    # or look back: Store.tail_lookback), so a filter that matches nothing does not make polls longer.
    latest = await ctx.store.latest_event_id()
    found = [] if unknown else await ctx.store.tail_events(ctx.account_id, after, name, pid, FEED_MAX)
    upto = max(after, latest, *(e.id for e in found))
    return _json({"events": [_shown(ctx, e) for e in found], "after": str(upto)})
