"""The ingest lane (api/lane.py) dispatches exactly as Starlette's router would, for every route it takes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import MutableMapping
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route

from openengage.api.lane import IngestLane
from openengage.api.unavailable import store_unavailable
from openengage.app import App, client_gone, create_app, not_found, server_error
from openengage.errors import StoreUnavailable
from openengage.settings import Settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> App:
    built = create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('lane') / 'oe.db'}"))
    assert isinstance(built, App)
    return built


def scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}


def router_pick(app: App, s: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """The route Starlette's router hands a request to, and its path parameters (None: no full match)."""
    for route in app.router.routes:
        match, child = route.matches(s)
        if match is Match.FULL:
            return route, child["path_params"]
    return None


def paths(app: App) -> list[str]:
    """A path for every route of the app, with odd but valid parameter values."""
    values = {"license_code": "~a b%2F", "app_id": "APP_ID-1", "user_id": "u", "request_id": "r", "txn_id": "t"}
    out = []
    for route in app.router.routes:
        path = getattr(route, "path", None)
        if path:
            for name, value in values.items():
                path = path.replace("{" + name + "}", value)
            out.append(path.replace("{", "").replace("}", ""))
    return out


def test_the_lane_takes_ingest_routes_only_and_all_of_them(app: App) -> None:
    lane = IngestLane(app.router, app.lane, app.exception_handlers, app.router)
    taken = {r.path for routes in lane.routes.values() for r in routes}
    assert "/v1/accounts/{license_code}/events" in taken and "/v1/event/{app_id}" in taken
    assert set(lane.routes) == {"POST"}


@pytest.mark.parametrize("method", ["POST", "GET", "PUT", "DELETE", "HEAD"])
def test_the_lane_picks_the_route_the_router_would(app: App, method: str) -> None:
    lane = IngestLane(app.router, app.lane, app.exception_handlers, app.router)
    checked = 0
    for path in [*paths(app), "/v1/accounts/x/events/", "/v1/accounts//events", "/v1/customer/merge"]:
        s = scope(method, path)
        mine = lane.match(s)
        if mine is None:
            continue  # Starlette's own router takes it
        checked += 1
        assert router_pick(app, s) == mine, path
    assert checked > 0 if method == "POST" else checked == 0


def test_a_root_path_goes_through_starlette(app: App) -> None:
    lane = IngestLane(app.router, app.lane, app.exception_handlers, app.router)
    assert lane.match(scope("POST", "/v1/accounts/x/events")) is not None
    assert lane.match(scope("POST", "/v1/accounts/x/events", root_path="/oe")) is None


# ---------------------------------------------------------------- errors: answered as Starlette answers them


class _SendFails(Response):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("sending failed")


RAISED: dict[str, Any] = {}


async def _endpoint(request: Request) -> Response:
    outcome = RAISED["outcome"]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome  # type: ignore[no-any-return]


def _app(lane: bool) -> App:
    route = Route("/v1/event/{app_id}", _endpoint, methods=["POST"])
    handlers: dict[Any, Any] = {
        404: not_found,
        405: not_found,
        500: server_error,
        StoreUnavailable: store_unavailable,
        ClientDisconnect: client_gone,
    }
    built = App(routes=[route], exception_handlers=handlers)
    if lane:
        built.lane = [route]
    return built


async def _call(app: App) -> tuple[Any, ...]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    s = {**scope("POST", "/v1/event/abc"), "raw_path": b"/v1/event/abc", "query_string": b"", "scheme": "http"}
    s.update({"server": ("127.0.0.1", 80), "http_version": "1.1", "asgi": {"version": "3.0"}})
    raised = None
    try:
        await app(s, receive, send)
    except Exception as exc:
        raised = type(exc)
    start = next((m for m in sent if m["type"] == "http.response.start"), {})
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    body = re.sub(rb'"request_id":"[^"]*"', b'"request_id":"(random)"', body)  # MoEngage's, new each time
    headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
    return start.get("status"), sorted(headers), body, raised


OUTCOMES = {
    "a response": Response(b"ok"),
    "StoreUnavailable": StoreUnavailable("the store is down"),
    "ClientDisconnect": ClientDisconnect(),
    "HTTPException 404": HTTPException(404),
    "HTTPException 418": HTTPException(418),
    "HTTPException 500": HTTPException(500),
    "a bug": RuntimeError("a bug"),
    "sending fails": _SendFails(b"x"),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES.values()), ids=list(OUTCOMES))  # stable ids (xdist)
def test_the_lane_answers_every_outcome_as_starlette_does(outcome: Any) -> None:
    RAISED["outcome"] = outcome
    assert asyncio.run(_call(_app(lane=True))) == asyncio.run(_call(_app(lane=False)))


def test_an_app_with_middleware_refuses_a_lane() -> None:
    app = _app(lane=True)
    app.user_middleware.append(Middleware(GZipMiddleware))
    with pytest.raises(ValueError, match="middleware"):
        app.build_middleware_stack()
