"""Messaging (issue #10): the channels page (email, webhook, "Send a test message") and the campaigns
page (list, create with the template error shown on save, start, pause). Changes need Update
Integrations and are audited like every administrative action (store/messaging.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from openengage.accounts import UPDATE_INTEGRATIONS, VIEW_DASHBOARD, new_webhook_secret
from openengage.dashboard.pages import Context, page
from openengage.errors import NotFound, OpenEngageError
from openengage.rules.channel_config import email_config, webhook_config
from openengage.rules.templates import InvalidTemplate
from openengage.store.base import Channel

SendTest = Callable[[Channel, str | None, str], Awaitable[str]]


async def _channels_page(ctx: Context, status: int = 200, **values: Any) -> Response:
    found = {c.kind: c for c in await ctx.store.channels(ctx.account_id)}
    return ctx.render(
        "channels.html", status, title="Channels", email=found.get("email"), webhook=found.get("webhook"), **values
    )


@page("integrations/channels", UPDATE_INTEGRATIONS, nav="Channels")
async def channels(ctx: Context) -> Response:
    return await _channels_page(ctx, notice=ctx.request.query_params.get("done"))


@page("integrations/channels/email", UPDATE_INTEGRATIONS, methods=("POST",))
async def set_email(ctx: Context) -> Response:
    try:
        config = email_config(ctx.field("smtp_url").strip(), ctx.field("from").strip())
    except OpenEngageError as exc:
        return await _channels_page(ctx, 400, error=str(exc))
    await ctx.store.set_channel(ctx.account_id, "email", config, None, actor=ctx.actor)
    return ctx.redirect("integrations/channels", done="Email channel saved.")


@page("integrations/channels/webhook", UPDATE_INTEGRATIONS, methods=("POST",))
async def set_webhook(ctx: Context) -> Response:
    try:
        config = webhook_config(ctx.field("url").strip())
    except OpenEngageError as exc:
        return await _channels_page(ctx, 400, error=str(exc))
    current = await ctx.store.channel(ctx.account_id, "webhook")
    secret = new_webhook_secret() if current is None or ctx.field("rotate") == "yes" else None
    await ctx.store.set_channel(ctx.account_id, "webhook", config, secret, actor=ctx.actor)
    return await _channels_page(ctx, notice="Webhook channel saved.", new_secret=secret)


@page("integrations/channels/test", UPDATE_INTEGRATIONS, methods=("POST",))
async def send_test(ctx: Context) -> Response:
    kind = ctx.field("kind")
    channel = await ctx.store.channel(ctx.account_id, kind) if kind in ("email", "webhook") else None
    sender: SendTest | None = ctx.extras.get("send_test")
    if channel is None or sender is None:
        return await _channels_page(ctx, 400, error=f"There is no {kind or 'such'} channel to test.")
    try:
        result = await sender(channel, ctx.field("to").strip() or None, ctx.license_code)
    except OpenEngageError as exc:
        return await _channels_page(ctx, 400, error=str(exc))
    return await _channels_page(ctx, notice=result)


async def _campaigns_page(ctx: Context, status: int = 200, **values: Any) -> Response:
    return ctx.render(
        "campaigns.html",
        status,
        title="Campaigns",
        campaigns=await ctx.store.campaigns(ctx.account_id),
        can_change=ctx.can(UPDATE_INTEGRATIONS),
        draft=values.pop("draft", {}),
        **values,
    )


@page("campaigns", VIEW_DASHBOARD, nav="Campaigns")
async def campaigns(ctx: Context) -> Response:
    return await _campaigns_page(ctx, notice=ctx.request.query_params.get("done"))


@page("campaigns/create", UPDATE_INTEGRATIONS, methods=("POST",))
async def create(ctx: Context) -> Response:
    draft = {k: ctx.field(k) for k in ("name", "channel", "subject", "body", "body_type")}
    try:
        created = await ctx.store.create_campaign(
            ctx.account_id,
            draft["name"],
            draft["channel"],
            draft["subject"],
            draft["body"].replace("\r\n", "\n"),
            draft["body_type"] == "html",
            actor=ctx.actor,
        )
    except InvalidTemplate as exc:
        where = f"the {exc.part}" + (f", line {exc.line}" if exc.line else "")
        return await _campaigns_page(
            ctx, 400, error=f"Not saved: a template error in {where}: {exc.reason}", draft=draft
        )
    except (ValueError, OpenEngageError) as exc:
        return await _campaigns_page(ctx, 400, error=f"Not saved: {exc}", draft=draft)
    return ctx.redirect("campaigns", done=f"Campaign {created.code} created (draft): start it to use it.")


async def _status(ctx: Context, status: str) -> Response:
    code = ctx.field("id")
    try:
        changed = await ctx.store.set_campaign_status(ctx.account_id, code, status, actor=ctx.actor)
    except NotFound as exc:
        return await _campaigns_page(ctx, 404, error=str(exc))
    return ctx.redirect("campaigns", done=f"Campaign {changed.code} is {changed.status}.")


@page("campaigns/start", UPDATE_INTEGRATIONS, methods=("POST",))
async def start(ctx: Context) -> Response:
    return await _status(ctx, "running")


@page("campaigns/pause", UPDATE_INTEGRATIONS, methods=("POST",))
async def pause(ctx: Context) -> Response:
    return await _status(ctx, "paused")
