"""Data quality: every datum the processor dropped or truncated, grouped by reason, then by event name
and field, with counts, first and last time and the latest example; a group's link lists all of its
rejections, newest first. Counts come from the counters the processor keeps (store/derived.py), the
examples from an index: nothing is sampled and nothing scans. Needs View Dashboard."""

from __future__ import annotations

import dataclasses

from starlette.responses import Response

from openengage import reasons
from openengage.accounts import VIEW_DASHBOARD
from openengage.dashboard import links
from openengage.dashboard.pages import Context, page
from openengage.store.base import InvalidCursor, RejectionGroup

EXAMPLES_PAGE = 50
GROUPS_SHOWN = 100  # groups of one reason on the page, the most frequent (a client can make thousands)


@dataclasses.dataclass(frozen=True)
class Reason:
    code: str
    meaning: str
    count: int
    groups: list[tuple[RejectionGroup, str, str]]  # group, its example as text, its examples URL
    hidden: int = 0  # groups not shown (fewer rejections each than those shown)
    hidden_count: int = 0  # their rejections


def _meaning(code: str) -> str:
    """What a reason code means (openengage/reasons.py, the codes' one home), as a sentence."""
    meaning = reasons.MEANINGS.get(code, "")
    return meaning[:1].upper() + meaning[1:] + "." if meaning else ""


@page("data-quality", VIEW_DASHBOARD, nav="Data quality")
async def data_quality(ctx: Context) -> Response:
    params = ctx.request.query_params
    if "reason" in params:
        return await _examples(ctx, params.get("reason", ""), params.get("event", ""), params.get("field", ""))
    by_reason: dict[str, Reason] = {}
    for g in await ctx.store.rejection_groups(ctx.account_id):
        r = by_reason.get(g.reason)
        if r is None:
            r = by_reason[g.reason] = Reason(g.reason, _meaning(g.reason), 0, [])
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
        for r in by_reason.values()
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
        meaning=_meaning(reason),
        event=event,
        field=field,
        rows=rows,
        more=more,
    )
