"""What the server says about itself: `GET /healthz`, `GET /metrics`, and the HTTP middleware that counts.

`Observe` wraps the whole app (outside Starlette's error middleware). Per request it:
- counts the answer by route template and status, and times it (labels are templates such as
  `/v1/accounts/{license_code}/events`, never a license code, app id or user id). Counts and times are
  kept in plain dicts and written to prometheus-client once a second (and before every scrape of this
  process): writing each request's three values cost ~10 µs of the hot path, most of it in
  multiprocess mode's locked writes to memory-mapped files;
- closes the connection after a response sent before a large request body was read (a 413 refused
  on its Content-Length, a 401 ahead of an upload): the server then never reads the rest;
- keeps the connection open after a 500: Starlette re-raises the error once its 500 page is sent,
  and uvicorn would then drop the connection under a keep-alive client's next request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

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
FLUSH_EVERY = 1.0  # seconds a worker's request counts may wait before prometheus-client sees them


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
        self._counts: dict[tuple[str, int], int] = {}
        self._times: dict[str, list[float]] = {}
        self._due: float | None = None  # when the flush scheduled for the counts above runs
        metrics.buffered(self)

    def _record(self, scope: Scope, status: int, start: float) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path", UNMATCHED) if route is not None else UNMATCHED
        now = time.perf_counter()
        key = (template, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        times = self._times.get(template)
        if times is None:
            times = self._times[template] = []
        times.append(now - start)
        if self._due is None:
            self._due = now + FLUSH_EVERY
            asyncio.get_running_loop().call_later(FLUSH_EVERY, self.flush)
        elif now > self._due + FLUSH_EVERY:  # its event loop ended before the flush ran (tests)
            self.flush()

    def flush(self) -> None:
        """Write the counts and times gathered since the last flush to prometheus-client."""
        counts, times = self._counts, self._times
        self._counts, self._times, self._due = {}, {}, None
        for (template, status), n in counts.items():
            metrics.HTTP_REQUESTS.labels(template, str(status)).inc(n)
        for template, seconds in times.items():
            metrics.observe_many(metrics.HTTP_DURATION.labels(template), seconds)

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
            self._record(scope, status or 500, start)


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
