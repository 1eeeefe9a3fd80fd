"""Integrations: the WebEngage REST API page (license code, base URL, the member's own key) and the
MoEngage Data API page (app id, Data API key). Generating a key shows it once; the old one stops working
on every node within a second (the change bumps the config version every API node polls)."""

from __future__ import annotations

from starlette.responses import Response

from openengage.accounts import UPDATE_INTEGRATIONS
from openengage.dashboard.pages import Context, page
from openengage.store.base import ApiKey


def _base_url(ctx: Context) -> str:
    return str(ctx.request.base_url).rstrip("/")


async def _my_key(ctx: Context) -> ApiKey | None:
    """The signed-in member's active key, else their latest (revoked) one, else None."""
    mine = [k for k in await ctx.store.list_keys(ctx.account_id) if k.member == ctx.member.email]
    active = [k for k in mine if k.revoked_at is None]
    chosen = active or mine
    return chosen[-1] if chosen else None


async def _rest_page(ctx: Context, new_key: str | None = None, status: int = 200) -> Response:
    return ctx.render(
        "rest_api.html",
        status,
        title="REST API",
        base_url=_base_url(ctx),
        key=await _my_key(ctx),
        new_key=new_key,
    )


@page("integrations/rest-api", UPDATE_INTEGRATIONS, nav="REST API")
async def rest_api(ctx: Context) -> Response:
    return await _rest_page(ctx)


@page("integrations/rest-api/generate", UPDATE_INTEGRATIONS, methods=("POST",))
async def rest_api_generate(ctx: Context) -> Response:
    """A new key for the signed-in member, shown in this response only; the old one is revoked with it."""
    key = await ctx.store.issue_key(ctx.account_id, ctx.member.email, actor=ctx.actor)
    return await _rest_page(ctx, new_key=key)


@page("integrations/data-api", UPDATE_INTEGRATIONS, nav="Data API")
async def data_api(ctx: Context) -> Response:
    return ctx.render("data_api.html", title="Data API", base_url=_base_url(ctx), new_key=None)


@page("integrations/data-api/generate", UPDATE_INTEGRATIONS, methods=("POST",))
async def data_api_generate(ctx: Context) -> Response:
    key = await ctx.store.rotate_data_api_key(ctx.account_id, actor=ctx.actor)
    return ctx.render("data_api.html", title="Data API", base_url=_base_url(ctx), new_key=key)
