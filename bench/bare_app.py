"""The baseline of the serve-mode bench: a bare uvicorn + Starlette app that parses the same JSON with orjson
(and checks its shape by hand), stores nothing and answers as OpenEngage does. No middleware, no auth.

Run: uvicorn bare_app:app --app-dir bench --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

QUEUED = orjson.dumps({"response": {"status": "queued"}})
INVALID = orjson.dumps({"response": {"status": "error"}})


def _event_ok(event: object) -> bool:
    return isinstance(event, dict) and isinstance(event.get("eventName"), str) and "userId" in event


async def single(request: Request) -> Response:
    try:
        ok = _event_ok(orjson.loads(await request.body()))
    except orjson.JSONDecodeError:
        ok = False
    return Response(QUEUED if ok else INVALID, 201 if ok else 400, media_type="application/json")


async def bulk(request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
        events = body.get("events") if isinstance(body, dict) else None
        ok = isinstance(events, list) and 0 < len(events) <= 25 and all(_event_ok(e) for e in events)
    except orjson.JSONDecodeError:
        ok = False
    return Response(QUEUED if ok else INVALID, 201 if ok else 400, media_type="application/json")


app = Starlette(
    routes=[
        Route("/v1/accounts/{license_code}/events", single, methods=["POST"]),
        Route("/v1/accounts/{license_code}/bulk-events", bulk, methods=["POST"]),
    ]
)
