"""The ingest lane (api/lane.py) dispatches exactly as Starlette's router would, for every route it takes."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Match

from openengage.api.lane import IngestLane
from openengage.app import App, create_app
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
