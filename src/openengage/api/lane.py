"""The ingest lane: POSTs to the ingest routes, dispatched ahead of Starlette's router and error middleware.

Starlette's layers around an endpoint (ServerErrorMiddleware, ExceptionMiddleware, the router's scan,
`request_response` and its exception wrapper) cost ~39 µs a request in-process against ~8 µs for a bare
ASGI callable (bench/asgi_cost.py); ingest is the hot path, so its routes skip them. The lane does what
those layers do, for these routes only:
- the first route (in the app's order) whose pattern matches the path and that takes the method, with
  `route`, `endpoint`, `router` and `path_params` set in the scope as the router sets them;
- an exception raised by the endpoint goes to the app's handler for its class (or for its status code,
  for an HTTPException); any other, or one raised while answering, is answered by the app's 500
  handler unless a response had started, and then re-raised, as ServerErrorMiddleware does (`Observe`,
  outside, keeps the connection usable).
Everything else (other methods, other paths, a `root_path`) goes through Starlette unchanged. The lane
skips what would sit between Starlette and the endpoint, so the app must have no user middleware and
the lane's routes no route middleware (App checks the first; ingest routes have none).
tests/unit/test_lane.py checks the lane picks the route the router would and answers every kind of
error as Starlette does.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Handler = Callable[[Request, Exception], Awaitable[Response]]


class IngestLane:
    def __init__(
        self, app: ASGIApp, routes: Sequence[Route], handlers: Mapping[Any, Handler], router: Any = None
    ) -> None:
        self.app = app
        self.router = router
        # Routes by method, in order; each takes only the methods it was declared with (no HEAD: no GET).
        self.routes: dict[str, list[Route]] = {}
        for route in routes:
            if not inspect.iscoroutinefunction(route.endpoint):  # Starlette would run it on a thread
                raise ValueError(f"the ingest lane takes async endpoints only, not {route.path}'s")
            for method in route.methods or ():
                self.routes.setdefault(method, []).append(route)
        for handler in handlers.values():
            if not inspect.iscoroutinefunction(handler):
                raise ValueError(f"the ingest lane awaits exception handlers: {handler!r} is not async")
        # As Starlette splits them: 500 and Exception belong to ServerErrorMiddleware, the rest to
        # ExceptionMiddleware (an HTTPException(500) is its plain answer, not the 500 handler's).
        self.by_class = {key: h for key, h in handlers.items() if isinstance(key, type) and key is not Exception}
        self.by_status = {key: h for key, h in handlers.items() if isinstance(key, int) and key != 500}
        self.server_error = handlers.get(500) or handlers.get(Exception)

    def match(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        """The route and path parameters of a request for the lane, else None."""
        if scope["type"] != "http" or scope.get("root_path"):
            return None
        routes = self.routes.get(scope["method"])
        if routes is None:
            return None
        path = scope["path"]
        for route in routes:
            found = route.path_regex.match(path)
            if found is not None:
                params = found.groupdict()
                for key, value in params.items():
                    params[key] = route.param_convertors[key].convert(value)
                return route, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self.match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        route, params = matched
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        if self.router is not None:
            scope["router"] = self.router
        request = Request(scope, receive, send)
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            try:
                response = await route.endpoint(request)
            except Exception as exc:  # ExceptionMiddleware's part
                handler = self._handler(exc)
                if handler is None:
                    raise
                response = await handler(request, exc)
            await response(scope, receive, sender)
        except Exception as exc:  # ServerErrorMiddleware's part: answer 500 if nothing was sent, re-raise
            if not started and self.server_error is not None:
                await (await self.server_error(request, exc))(scope, receive, send)
            raise

    def _handler(self, exc: Exception) -> Handler | None:
        if isinstance(exc, HTTPException):
            found = self.by_status.get(exc.status_code)
            return found if found is not None else _http_exception
        for cls in type(exc).__mro__:
            if cls in self.by_class:
                return self.by_class[cls]
        return None


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own answer to an HTTPException nobody handles."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
