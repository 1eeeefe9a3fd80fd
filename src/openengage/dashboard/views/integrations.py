"""Integrations: the WebEngage REST API page (license code, base URL, the member's own key) and the
MoEngage Data API page (app id, Data API key). Generating a key shows it once; the old one stops working
on every node within a second (the change bumps the config version every API node polls).

Each generate form names the key it replaces (`replaces`). A browser's reload or back-and-resubmit sends
the form again: without that check it would revoke the key the page had just shown, which the user may
already have copied into a client. A form whose key is no longer current changes nothing and says so.
A POST without the field (a script that sends only the CSRF token) generates as before: the check
guards the page's own form.
"""

from __future__ import annotations

import hashlib

from starlette.responses import Response

from openengage.accounts import UPDATE_INTEGRATIONS
from openengage.dashboard.pages import Context, page
from openengage.store.base import ApiKey

STALE_FORM = (
    "The key changed after this page was loaded (this form was sent again, by a reload or the back button, "
    "or someone else changed the key): no key was generated. If you did not see a new key, generate again."
)


def _base_url(ctx: Context) -> str:
    return str(ctx.request.base_url).rstrip("/")


async def _my_key(ctx: Context) -> ApiKey | None:
    """The signed-in member's active key, else their latest (revoked) one, else None."""
    mine = [k for k in await ctx.store.list_keys(ctx.account_id) if k.member == ctx.member.email]
    active = [k for k in mine if k.revoked_at is None]
    chosen = active or mine
    return chosen[-1] if chosen else None


def _stale(ctx: Context, current: str) -> bool:
    """Whether the form names a key other than the current one (no `replaces` field: not checked)."""
    sent = ctx.form.get("replaces")
    return sent is not None and sent[0] != current


def _rest_version(key: ApiKey | None) -> str:
    """What a REST generate form replaces: the member's active key (its creation time and last four
    characters, both shown on the page already), or none."""
    if key is None or key.revoked_at is not None:
        return "none"
    return f"{key.created_at}-{key.hint[-4:]}"


async def _data_version(ctx: Context) -> str:
    """What a Data API generate form replaces: a digest of the stored hash (never the hash itself), read
    from the store rather than the one-second config cache so that a quick reload sees the new key."""
    account = await ctx.store.account_by_license(ctx.license_code)
    stored = account.data_api_key_hash if account is not None else None
    if stored is None:
        return "none"
    return hashlib.sha256(b"openengage data key form:" + stored.encode()).hexdigest()[:16]


async def _rest_page(ctx: Context, new_key: str | None = None, status: int = 200, error: str | None = None) -> Response:
    key = await _my_key(ctx)
    return ctx.render(
        "rest_api.html",
        status,
        title="REST API",
        base_url=_base_url(ctx),
        key=key,
        replaces=_rest_version(key),
        new_key=new_key,
        error=error,
    )


@page("integrations/rest-api", UPDATE_INTEGRATIONS, nav="REST API")
async def rest_api(ctx: Context) -> Response:
    return await _rest_page(ctx)


@page("integrations/rest-api/generate", UPDATE_INTEGRATIONS, methods=("POST",))
async def rest_api_generate(ctx: Context) -> Response:
    """A new key for the signed-in member, shown in this response only; the old one is revoked with it."""
    if _stale(ctx, _rest_version(await _my_key(ctx))):
        return await _rest_page(ctx, status=409, error=STALE_FORM)
    key = await ctx.store.issue_key(ctx.account_id, ctx.member.email, actor=ctx.actor)
    return await _rest_page(ctx, new_key=key)


async def _data_page(ctx: Context, new_key: str | None = None, status: int = 200, error: str | None = None) -> Response:
    return ctx.render(
        "data_api.html",
        status,
        title="Data API",
        base_url=_base_url(ctx),
        replaces=await _data_version(ctx),
        new_key=new_key,
        error=error,
    )


@page("integrations/data-api", UPDATE_INTEGRATIONS, nav="Data API")
async def data_api(ctx: Context) -> Response:
    return await _data_page(ctx)


@page("integrations/data-api/generate", UPDATE_INTEGRATIONS, methods=("POST",))
async def data_api_generate(ctx: Context) -> Response:
    if _stale(ctx, await _data_version(ctx)):
        return await _data_page(ctx, status=409, error=STALE_FORM)
    key = await ctx.store.rotate_data_api_key(ctx.account_id, actor=ctx.actor)
    return await _data_page(ctx, new_key=key)
