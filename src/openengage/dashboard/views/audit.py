"""Audit log: every administrative action on the account, from the dashboard or the CLI, newest first."""

from __future__ import annotations

from starlette.responses import Response

from openengage.accounts import VIEW_DASHBOARD
from openengage.dashboard.pages import Context, page
from openengage.store.base import InvalidCursor

PAGE_SIZE = 50


@page("audit", VIEW_DASHBOARD, nav="Audit log")
async def audit(ctx: Context) -> Response:
    cursor = ctx.request.query_params.get("cursor") or None
    try:
        entries = await ctx.store.audit(ctx.account_id, PAGE_SIZE, cursor)
    except InvalidCursor:
        return ctx.render("error.html", 400, title="Bad request", message="That page link is not valid.")
    older = ctx.url("audit", cursor=entries.next) if entries.next else None
    return ctx.render("audit.html", title="Audit log", entries=entries.items, older=older)
