"""The ASGI application: routes, lifespan (store, group commit, auth cache), middleware, error shapes."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from openengage import metrics
from openengage.api import business, gdpr, moengage, openapi, read, transactions, webengage
from openengage.api import webengage_responses as we
from openengage.api.auth import AuthCache
from openengage.api.lane import IngestLane
from openengage.api.observe import HEALTHZ, METRICS, Observe, healthz, metrics_endpoint
from openengage.api.refusals import RefusalLog
from openengage.api.services import Services
from openengage.api.unavailable import store_unavailable
from openengage.dashboard import Dashboard
from openengage.errors import StoreUnavailable
from openengage.lifecycle import tune_gc
from openengage.messaging.test_message import send_test
from openengage.operations import ApiRoute
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.groupcommit import GroupCommitter
from openengage.store.txncommit import TransactionCommitter

log = logging.getLogger("openengage.app")
SWITCH_INTERVAL = 0.0005


async def not_found(request: Request, exc: Exception) -> Response:
    """404 and 405 in the shape of the API the path belongs to (MoEngage's roots, the GDPR API, else WebEngage's)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    headers = exc.headers if isinstance(exc, HTTPException) else None  # 405 carries Allow
    if moengage.owns(request.url.path):
        return moengage.app_error(status, request.method, headers)
    message = "Error: no such resource." if status == 404 else "Error: method not allowed."
    if gdpr.owns(request.url.path):  # the GDPR API's answers are flat
        return gdpr.error(status, message, headers=headers)
    return we.error(status, message, headers=headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc, extra={"action": "server_error"})
    if moengage.owns(request.url.path):
        return moengage.app_error(500, request.method)
    if gdpr.owns(request.url.path):
        return gdpr.error(500, "Error: internal server error; nothing was changed.")
    return we.error(500, "Error: internal server error; nothing was queued.")


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up (or was cut off for stalling) mid-body: nobody is left to answer."""
    return Response(status_code=400)


class App(Starlette):
    """Starlette with `Observe` (metrics, connection hygiene) outside its error middleware, and the ingest
    routes dispatched by `IngestLane` ahead of Starlette's router (the hot path; api/lane.py)."""

    lane: Sequence[Route] = ()

    def build_middleware_stack(self) -> ASGIApp:
        if self.lane and self.user_middleware:
            raise ValueError("the ingest lane bypasses user middleware: add none, or no lane")
        stack = super().build_middleware_stack()
        return Observe(IngestLane(stack, self.lane, self.exception_handlers, self.router) if self.lane else stack)


def create_app(settings: Settings | None = None) -> Starlette:
    """The application. Without settings they are read from OPENENGAGE_*."""
    if settings is None:
        settings = Settings.from_env()
    dashboard = Dashboard(settings, extras={"send_test": send_test})  # messaging's, for the channels page

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # The ingest writer thread releases the GIL for every SQLite call and fsync; with the default
        # 5 ms switch interval it then waits behind the busy event loop for up to 5 ms per call.
        sys.setswitchinterval(SWITCH_INTERVAL)
        store = open_store(settings)
        await store.open()
        committer = GroupCommitter(store, settings.group_commit_records)
        committer.start()
        txns = TransactionCommitter(store)
        txns.start()
        auth = AuthCache(store)
        await auth.start()
        refusals = RefusalLog(store)
        refusals.start()
        app.state.services = Services(settings, store, committer, auth, transactions=txns, refusals=refusals)
        await dashboard.start(store)
        tune_gc()
        try:
            yield {}
        finally:
            metrics.flush()  # the last second's request counts (api/observe.py)
            await dashboard.stop()
            await auth.stop()
            await txns.stop()
            await committer.stop()
            await refusals.stop()
            await store.close()

    # Every API route is an ApiRoute carrying its documentation: GET /openapi.json is built from this list.
    routes: list[BaseRoute] = [ApiRoute("/healthz", healthz, methods=["GET"], operations=HEALTHZ)]
    routes += webengage.routes
    routes += moengage.routes
    routes += read.routes
    routes += gdpr.routes  # messaging (#10): GDPR requests and business events
    routes += business.routes
    routes += transactions.routes
    routes.append(ApiRoute("/metrics", metrics_endpoint, methods=["GET"], operations=METRICS))
    routes.append(ApiRoute(openapi.PATH, openapi.endpoint, methods=["GET"], operations=openapi.OPERATION))
    routes += dashboard.routes()  # GET / redirects to /dashboard/; everything else under /dashboard/
    app = App(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            404: not_found,
            405: not_found,
            500: server_error,
            # server track (#7): store outages and vanished clients; keep apart from the handlers above
            StoreUnavailable: store_unavailable,
            ClientDisconnect: client_gone,
        },
    )
    # The ingest routes of both dialects: POST only, and ahead of every other route that takes POST, so
    # the lane's first match is the router's (tests/unit/test_lane.py).
    app.lane = [*webengage.routes, *moengage.routes]
    return app
