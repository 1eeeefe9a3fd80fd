"""Team: members with their role, permissions and key; add a member, change a role, remove a member,
revoke a key. The rules are the store's (accounts.py, checked in the change's transaction): permissions
per action, nobody grants what they lack, the owner and the last admin stay; each change is audited with
the signed-in member and the client's address."""

from __future__ import annotations

from starlette.responses import Response

from openengage import accounts as rules
from openengage.accounts import ACCOUNT_MANAGEMENT
from openengage.dashboard.pages import Context, page
from openengage.errors import Conflict, NotFound, OpenEngageError, PermissionDenied
from openengage.store.base import ApiKey

DONE = {  # what a redirect after a change says (a fixed set: nothing from the request is echoed)
    "role": "Role changed; the member's API key was revoked (generate a new one on the REST API page).",
    "removed": "Member removed; their API key was revoked.",
    "revoked": "API key revoked.",
}


def _status(exc: Exception) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 400


async def _team_page(
    ctx: Context, *, status: int = 200, error: str | None = None, added: tuple[str, str] | None = None
) -> Response:
    members = await ctx.store.list_members(ctx.account_id)
    keys: dict[str, ApiKey] = {}
    for k in await ctx.store.list_keys(ctx.account_id):
        if k.revoked_at is None:
            keys[k.member] = k
    return ctx.render(
        "team.html",
        status,
        title="Team",
        members=members,
        keys=keys,
        roles=rules.ROLES,
        permissions=rules.PERMISSIONS,
        labels=rules.PERMISSION_LABELS,
        error=error,
        notice=DONE.get(ctx.request.query_params.get("done", "")),
        added=added,
    )


def _role_and_permissions(ctx: Context) -> tuple[str, frozenset[str]]:
    role = ctx.field("role")
    listed = ctx.form.get("permission", []) if role == rules.CUSTOM_ROLE else []
    return role, rules.role_permissions(role, listed)


@page("team", ACCOUNT_MANAGEMENT, nav="Team")
async def team(ctx: Context) -> Response:
    return await _team_page(ctx)


@page("team/add", ACCOUNT_MANAGEMENT, methods=("POST",))
async def team_add(ctx: Context) -> Response:
    """Add a member; their new REST key is shown once, in this response."""
    email = ctx.field("email").strip()
    try:
        rules.check_email(email)
        role, permissions = _role_and_permissions(ctx)
        member, key = await ctx.store.add_member(ctx.account_id, email, role, permissions, actor=ctx.actor)
    except (OpenEngageError, ValueError) as exc:
        return await _team_page(ctx, status=_status(exc), error=str(exc))
    return await _team_page(ctx, added=(member.email, key))


@page("team/role", ACCOUNT_MANAGEMENT, methods=("POST",))
async def team_role(ctx: Context) -> Response:
    try:
        role, permissions = _role_and_permissions(ctx)
        await ctx.store.set_role(ctx.account_id, ctx.field("email"), role, permissions, actor=ctx.actor)
    except (OpenEngageError, ValueError) as exc:
        return await _team_page(ctx, status=_status(exc), error=str(exc))
    return ctx.redirect("team", done="role")


@page("team/remove", ACCOUNT_MANAGEMENT, methods=("POST",))
async def team_remove(ctx: Context) -> Response:
    try:
        await ctx.store.remove_member(ctx.account_id, ctx.field("email"), actor=ctx.actor)
    except (OpenEngageError, ValueError) as exc:
        return await _team_page(ctx, status=_status(exc), error=str(exc))
    return ctx.redirect("team", done="removed")


@page("team/revoke-key", ACCOUNT_MANAGEMENT, methods=("POST",))
async def team_revoke_key(ctx: Context) -> Response:
    """Revoking needs Update Data (Management) too: the store checks it (the seed's rule)."""
    try:
        await ctx.store.revoke_key(ctx.account_id, ctx.field("email"), actor=ctx.actor)
    except (OpenEngageError, ValueError) as exc:
        return await _team_page(ctx, status=_status(exc), error=str(exc))
    return ctx.redirect("team", done="revoked")
