"""What the server says about itself: `GET /healthz`, `GET /metrics`, and the HTTP middleware that counts.

`Observe` wraps the whole app (outside Starlette's error middleware). Per request it:
- counts the answer by route template and status, and times it (labels are templates such as
  `/v1/accounts/{license_code}/events`, never a license code, app id or user id);
- closes the connection after a response sent before a large request body was read (a 413 refused
  on its Content-Length, a 401 ahead of an upload): the server then never reads the rest;
- keeps the connection open after a 500: Starlette re-raises the error once its 500 page is sent,
  and uvicorn would then drop the connection under a keep-alive client's next request.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openengage import metrics
from openengage.errors import StoreUnavailable
from openengage.operations import Header, Operation, Reply
from openengage.rules.dates import now_ms

log = logging.getLogger("openengage.api")

# uvicorn buffers up to 64 KiB of a body without being asked; past that, an unread body is still on
# the wire and reading it just to discard it is what a hostile upload wants.
_UNREAD_LIMIT = 65_536
UNMATCHED = "unmatched"


def _body_pending(scope: Scope) -> bool:
    """Whether the request announces a body that may still be on the wire unread."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return not value.isdigit() or int(value) > _UNREAD_LIMIT
        if name == b"transfer-encoding":
            return True
    return False


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._requests: dict[tuple[str, int], Any] = {}
        self._durations: dict[str, Any] = {}

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path", UNMATCHED) if route is not None else UNMATCHED
        counter = self._requests.get((template, status))
        if counter is None:
            counter = self._requests[(template, status)] = metrics.HTTP_REQUESTS.labels(template, str(status))
        histogram = self._durations.get(template)
        if histogram is None:
            histogram = self._durations[template] = metrics.HTTP_DURATION.labels(template)
        counter.inc()
        histogram.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The ingest hot path: a few microseconds a request (measured in-process, docs/operations.md).
        start = time.perf_counter()
        status = 0
        complete = False
        body_read = not _body_pending(scope)

        async def read() -> Message:
            nonlocal body_read
            got = await receive()
            if got["type"] != "http.request" or not got.get("more_body", False):
                body_read = True
            return got

        async def reply(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                if not body_read:
                    message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            elif not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, receive if body_read else read, reply)
        except Exception:
            if not complete:
                raise  # uvicorn answers 500 (nothing sent yet) or drops the half-sent response
            # Already answered (and logged) by the app's 500 handler: the connection stays usable.
        finally:
            self._record(scope, status or 500, time.perf_counter() - start)


async def healthz(request: Request) -> Response:
    """200 while the store can take writes; 503 (with Retry-After) while it cannot."""
    svc = request.app.state.services
    try:
        await svc.store.health()
    except StoreUnavailable as exc:
        log.warning("health check: %s", exc, extra={"action": "health"})
        retry = str(svc.settings.retry_after)
        return JSONResponse({"status": "unavailable"}, 503, {"Retry-After": retry})
    return JSONResponse({"status": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format: the node's totals, plus the processor backlog read from the store now."""
    extra = []
    try:
        pending, oldest = await request.app.state.services.store.backlog()
        extra = metrics.backlog_families(pending, oldest, now_ms())
    except StoreUnavailable:
        pass  # the store errors counter says why the backlog gauges are missing
    return Response(metrics.exposition(extra), media_type=CONTENT_TYPE_LATEST)


class Health(msgspec.Struct):
    """Whether the server can take traffic (the store can take writes)."""

    status: Literal["ok", "unavailable"]


HEALTHZ = Operation(
    id="healthz",
    summary="Health check",
    tag="Operations",
    description="For load balancers: 200 once the server can take traffic, 503 while the store cannot take writes.",
    replies=(
        Reply(200, "The server can take traffic.", Health),
        Reply(503, "The store is unavailable.", Health, headers=(Header("Retry-After", "Seconds.", int, True),)),
    ),
)
METRICS = Operation(
    id="metrics",
    summary="Prometheus metrics",
    tag="Operations",
    description="The node's totals in Prometheus' text format (docs/operations.md lists the metrics).",
    replies=(Reply(200, "Prometheus text exposition format.", media=("text/plain",)),),
)
