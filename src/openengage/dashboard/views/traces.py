"""The debugger and request traces: what every ingest request became (issue #8).

- `debugger`: the newest requests received on every ingest endpoint of both dialects, accepted (from the
  request traces the ingest log's append keeps) and refused (4xx, recorded off the acknowledgement path
  by api/refusals.py): time, endpoint, status, message, body excerpt; each accepted one links to its trace.
- `requests/{requestId}`: one request's trace (store/traces.py): received, committed, processed and the
  lag, the profiles it landed on, the events it stored, and every datum dropped or truncated and why.
- `events/{id}/trace`: redirects to the trace of the request that brought the event (the live tail and
  the profile timeline link there).
All need View Profiles (DESIGN: "users, a user's profile, live events, debugger"): bodies and traces hold
what clients sent about people. Every value is shown as text (templates autoescape; `m.value`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from openengage.accounts import VIEW_PROFILES
from openengage.dashboard import links
from openengage.dashboard.pages import Context, page
from openengage.store.base import RequestSeen, RequestTrace

SHOWN = 100  # requests on the debugger page
MAX_REQUEST_ID = 200
ENDPOINTS = (
    ("webengage", ("/users", "/events", "/bulk-users", "/bulk-events")),
    (
        "moengage",
        ("/v1/customer", "/v1/event", "/v1/device", "/v1/transition", "/v1/customer/merge", "/v1/customer/delete"),
    ),
)
_KNOWN = frozenset(e for _, group in ENDPOINTS for e in group)
STATUSES = {"": None, "accepted": True, "refused": False}


def _row(ctx: Context, r: RequestSeen) -> dict[str, object]:
    return {
        "at": r.at,
        "endpoint": r.endpoint,
        "dialect": "MoEngage" if r.endpoint.startswith("/v1/") else "WebEngage",
        "status": r.status,
        "accepted": r.accepted,
        "message": r.message,
        "body": r.body,
        "records": r.records,
        "request_id": r.request_id,
        "trace": ctx.url(links.id_path("requests", r.request_id)) if r.accepted and r.request_id else None,
    }


@page("debugger", VIEW_PROFILES, nav="Debugger")
async def debugger(ctx: Context) -> Response:
    params = ctx.request.query_params
    status = params.get("status", "")
    status = status if status in STATUSES else ""
    endpoint = params.get("endpoint", "")
    endpoint = endpoint if endpoint in _KNOWN else ""
    seen = await ctx.store.recent_requests(ctx.account_id, SHOWN, STATUSES[status], endpoint or None)
    return ctx.render(
        "debugger.html",
        title="Debugger",
        rows=[_row(ctx, r) for r in seen],
        status_filter=status,
        endpoint=endpoint,
        endpoints=ENDPOINTS,
        shown=SHOWN,
    )


def _profile_link(ctx: Context, kind: str, value: str, user_id: str | None, found: bool) -> str | None:
    if not found:
        return None
    path = links.profile_path(user_id, value if user_id is None and kind == "a" else None)
    return None if path is None else ctx.url(path)


def _trace_values(ctx: Context, t: RequestTrace) -> dict[str, Any]:
    processed = t.processed_at
    status = "pending" if t.pending else ("failed" if any(p.dead_letter for p in t.parts) else "processed")
    return {
        "t": t,
        "dialect": "MoEngage" if t.dialect == "moengage" else "WebEngage",
        "state": status,
        "processed": processed,
        "lag": None if processed is None else max(0, processed - t.committed_at),
        "subjects": [(s, _profile_link(ctx, s.kind, s.value, s.user_id, s.found)) for s in t.subjects],
        "events": [(e, links.display(e.data)) for e in t.events],
        "rejections": [(r, links.display(r.value)) for r in t.rejections],
        "dead_letters": [p.dead_letter for p in t.parts if p.dead_letter],
    }


@page("requests/{value:anytext}", VIEW_PROFILES)
async def request_trace(ctx: Context) -> Response:
    request_id = links.raw_id(ctx.request, "requests")
    trace = None
    if request_id and len(request_id) <= MAX_REQUEST_ID and "\x00" not in request_id:
        trace = await ctx.store.request_trace(ctx.account_id, request_id)
    if trace is None:
        return ctx.render("trace_missing.html", 404, title="No such request", request_id=request_id)
    return ctx.render("trace.html", 200, title="Request trace", **_trace_values(ctx, trace))


@page(links.EVENT_TRACE, VIEW_PROFILES)
async def event_trace(ctx: Context) -> Response:
    event_id = int(ctx.request.path_params["event_id"])
    request_id = None
    if 0 <= event_id < 2**63:
        request_id = await ctx.store.request_of_event(ctx.account_id, event_id)
    if request_id is None:
        return ctx.render("trace_missing.html", 404, title="No trace", request_id=None, event_id=event_id)
    return ctx.redirect(links.id_path("requests", request_id))
