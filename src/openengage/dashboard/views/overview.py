"""Overview: the account's counters, records accepted and processed per minute over the last hour, and
the latest rejections."""

from __future__ import annotations

from starlette.responses import Response

from openengage.accounts import VIEW_DASHBOARD
from openengage.dashboard.charts import MINUTE_MS, minute_chart
from openengage.dashboard.pages import Context, page
from openengage.rules.dates import now_ms

LATEST_REJECTIONS = 10


@page("", VIEW_DASHBOARD, nav="Overview")
async def overview(ctx: Context) -> Response:
    now = now_ms()
    stats = await ctx.store.stats(ctx.account_id)
    minutes = await ctx.store.throughput(ctx.account_id, now - 59 * MINUTE_MS)
    rejections = await ctx.store.rejections(ctx.account_id, LATEST_REJECTIONS, None, None)
    return ctx.render(
        "overview.html",
        title="Overview",
        stats=stats,
        chart=minute_chart(minutes, now),
        rejections=rejections.items,
    )
