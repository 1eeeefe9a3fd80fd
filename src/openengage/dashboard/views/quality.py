"""Data quality: every datum the processor dropped or truncated, grouped by reason, then by event name
and field, with counts, first and last time and the latest example; a group's link lists all of its
rejections, newest first. Counts come from the counters the processor keeps (store/derived.py), the
examples from an index: nothing is sampled and nothing scans. Needs View Dashboard."""

from __future__ import annotations

import dataclasses

from starlette.responses import Response

from openengage.accounts import VIEW_DASHBOARD
from openengage.dashboard import links
from openengage.dashboard.pages import Context, page
from openengage.store.base import InvalidCursor, RejectionGroup

EXAMPLES_PAGE = 50
GROUPS_SHOWN = 100  # groups of one reason on the page, the most frequent (a client can make thousands)

# What each reason code means (the codes are the rejections API's `reason`).
REASONS = {
    "reserved_prefix": "Attribute names starting with we_ are reserved; the attribute was ignored.",
    "name_too_long": "Attribute names must be under 50 characters; the attribute was ignored.",
    "empty_name": "An attribute had an empty name; it was ignored.",
    "type_conflict": "The value's type differs from the type the attribute was locked to; the value was dropped.",
    "type_limit": "The scope already has 25 custom attributes of this type; the new attribute was dropped.",
    "null_value": "A null value is not stored.",
    "truncated": "Text values are kept up to 999 characters; the rest was cut off.",
    "anonymous_id_conflict": "The anonymous id already belongs to another known user; it was not moved.",
    "user_not_found": "The record needs an existing user, and there was none.",
    "system_event": "System events cannot be created through the API; the event was dropped.",
    "device_limit": "A user may have at most 1,000 devices.",
    "unknown_field": "The field is not part of the API; it was ignored.",
    "invalid_value": "The value is not valid for this standard attribute; it was ignored.",
    "reserved_name": "The attribute name is reserved; it was ignored.",
    "platform_mismatch": "The identifier does not belong to this platform; it was dropped.",
    "missing_id": "The record had neither a userId nor an anonymousId.",
}


@dataclasses.dataclass(frozen=True)
class Reason:
    code: str
    meaning: str
    count: int
    groups: list[tuple[RejectionGroup, str, str]]  # group, its example as text, its examples URL
    hidden: int = 0  # groups not shown (fewer rejections each than those shown)
    hidden_count: int = 0  # their rejections


@page("data-quality", VIEW_DASHBOARD, nav="Data quality")
async def data_quality(ctx: Context) -> Response:
    params = ctx.request.query_params
    if "reason" in params:
        return await _examples(ctx, params.get("reason", ""), params.get("event", ""), params.get("field", ""))
    reasons: dict[str, Reason] = {}
    for g in await ctx.store.rejection_groups(ctx.account_id):
        r = reasons.get(g.reason)
        if r is None:
            r = reasons[g.reason] = Reason(g.reason, REASONS.get(g.reason, ""), 0, [])
        url = ctx.url("data-quality", reason=g.reason, event=g.event_name, field=g.field)
        r.groups.append((g, links.display(g.example_value), url))
    shown = [
        dataclasses.replace(
            r,
            count=sum(g.count for g, _, _ in r.groups),
            groups=r.groups[:GROUPS_SHOWN],  # most frequent first (store order)
            hidden=max(0, len(r.groups) - GROUPS_SHOWN),
            hidden_count=sum(g.count for g, _, _ in r.groups[GROUPS_SHOWN:]),
        )
        for r in reasons.values()
    ]
    shown.sort(key=lambda r: (-r.count, r.code))
    return ctx.render("data_quality.html", title="Data quality", reasons=shown, total=sum(r.count for r in shown))


async def _examples(ctx: Context, reason: str, event: str, field: str) -> Response:
    cursor = ctx.request.query_params.get("cursor") or None
    try:
        found = await ctx.store.rejection_examples(ctx.account_id, reason, event, field, EXAMPLES_PAGE, cursor)
    except InvalidCursor:
        return ctx.render("error.html", 400, title="Bad request", message="That page link is not valid.")
    more = None
    if found.next:
        more = ctx.url("data-quality", reason=reason, event=event, field=field, cursor=found.next)
    rows = []
    for r in found.items:
        profile = links.profile_path(r.user_id, None if r.user_id is not None else r.anonymous_id)
        rows.append((r, links.display(r.value), None if profile is None else ctx.url(profile)))
    return ctx.render(
        "data_quality_group.html",
        title="Data quality",
        reason=reason,
        meaning=REASONS.get(reason, ""),
        event=event,
        field=field,
        rows=rows,
        more=more,
    )
