"""Business events (#10): the account's definitions with their typed attributes, and one definition's saved
events, newest first. Read-only: definitions and events come in through the API (docs/business-events.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from starlette.responses import Response

from openengage.accounts import VIEW_DASHBOARD
from openengage.dashboard.pages import Context, page
from openengage.store.base import InvalidCursor

PAGE_SIZE = 50


def event_url(ctx: Context, name: str, **query: str) -> str:
    """The page of one definition (its name percent-encoded whole: a name may hold `/`, `?` or `#`)."""
    return ctx.url("business-events/" + quote(name, safe=""), **query)


def shown(value: Any) -> str:
    """An attribute value as the client sent it: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


@page("business-events", VIEW_DASHBOARD, nav="Business events")
async def business_events(ctx: Context) -> Response:
    definitions = await ctx.store.business_definitions(ctx.account_id)
    links = {d.name: event_url(ctx, d.name) for d in definitions}
    return ctx.render("business_events.html", title="Business events", definitions=definitions, links=links)


@page("business-events/{name:path}", VIEW_DASHBOARD)
async def business_event(ctx: Context) -> Response:
    name = str(ctx.request.path_params["name"])
    definition = await ctx.store.business_definition(ctx.account_id, name)
    if definition is None:
        return ctx.render("error.html", 404, title="Not found", message="No business event has that name.")
    cursor = ctx.request.query_params.get("cursor") or None
    try:
        saved = await ctx.store.business_events(ctx.account_id, name, PAGE_SIZE, cursor)
    except InvalidCursor:
        return ctx.render("error.html", 400, title="Bad request", message="That page link is not valid.")
    older = event_url(ctx, name, cursor=saved.next) if saved.next else None
    return ctx.render(
        "business_event.html",
        title="Business event",
        definition=definition,
        events=[(e, [(key, shown(v)) for key, v in e.data.items()]) for e in saved.items],
        older=older,
        back=ctx.url("business-events"),
    )
