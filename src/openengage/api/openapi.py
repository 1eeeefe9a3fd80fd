"""`GET /openapi.json`: the OpenAPI 3.1 document of every API route, built from the routes themselves.

Each route is an `operations.ApiRoute` that carries its operations (request parameters, the msgspec type
its validator admits the request body with, every reply with its body type and headers). `document()`
walks the app's routes, Mounts included, and turns them into paths; every body type goes through one
`msgspec.json.schema_components` call, so shared shapes (the WebEngage container, the MoEngage failure)
are components referenced by name. The dashboard's HTML pages are left out (`documented_elsewhere`):
they are a browser application with a session cookie and CSRF tokens, not an API (docs/dashboard.md).

The document is built on the first request and kept: routes do not change while the app runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from openengage import __version__
from openengage.operations import BASIC, BEARER, JSON, NO_EXAMPLE, ApiRoute, Header, Operation, Param, Reply

PATH = "/openapi.json"
OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{name}"
_CONVERTOR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}")
_PARAMS = re.compile(r"\{([^}]+)\}")

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "A team member's WebEngage REST API key (`Authorization: Bearer <key>`); the member needs "
        "the Account Management and Update Data permissions. Used by the WebEngage dialect and the read API.",
    },
    BASIC: {
        "type": "http",
        "scheme": "basic",
        "description": "MoEngage Data API: `Authorization: Basic base64(<app_id>:<data_api_key>)`. The optional "
        "`MOE-APPKEY` header, when sent, must equal the app id.",
    },
}

DESCRIPTION = """\
A self-hosted customer data platform that speaks the WebEngage REST API and the MoEngage Data API.

- **WebEngage** (`/v1/accounts/{license_code}/…`): Bearer key; answers in WebEngage's container
  `{"response": {…}}`, as XML with `?format=xml`.
- **MoEngage** (`/v1/customer`, `/v1/event`, …): Basic auth; answers `{"status": "success", …}` or
  `{"status": "fail", "error": {…}}`.
- **Read API** (`GET /v1/accounts/{license_code}/…`): OpenEngage's own, with the WebEngage key and container.

A 2xx from an ingest endpoint means the request is durably committed. Request bodies are checked in two
steps: the body must be one its documented schema admits (the same msgspec type the server validates
with), then rules no schema states are applied (both user ids empty, dates in range, system event names,
the NUL character, nesting beyond 64 levels); either refusal answers 400 in the dialect's shape.

The HTTP server itself, before the application, answers in plain text: 431 for a request head over the
header limit, 408 for a request that does not arrive in time, 503 when every connection is busy."""


def documented_elsewhere(path: str) -> bool:
    """Routes that are not API operations: the dashboard's HTML pages and the `/` redirect to them."""
    return path == "/" or path == "/dashboard" or path.startswith("/dashboard/")


def openapi_path(route_path: str) -> str:
    """Starlette's `{name:convertor}` is OpenAPI's `{name}`."""
    return _CONVERTOR.sub(r"{\1}", route_path)


def walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """(full path, route) of every route, those inside Mounts included."""
    for route in routes:
        if isinstance(route, Mount):
            yield from walk(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route
        else:
            yield prefix + getattr(route, "path", ""), route


def route_methods(route: Route) -> list[str]:
    """The methods a route declares (Starlette adds HEAD to every GET route: not an operation of its own)."""
    methods = set(route.methods or ())
    if "GET" in methods:
        methods.discard("HEAD")
    return sorted(methods)


def operations(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str, Operation]]:
    """(OpenAPI path, method, operation) of every documented route, in route order."""
    for full, route in walk(routes):
        if not isinstance(route, ApiRoute):
            continue
        methods = route_methods(route)
        for op in route.operations:
            method = op.method or (methods[0] if len(methods) == 1 else "")
            if method not in methods:
                raise ValueError(f"{full}: operation {op.id} needs `method`, one of {methods}")
            yield op.path or openapi_path(full), method.lower(), op


class _Schemas:
    """Every type the document shows, resolved to schemas in one `schema_components` call."""

    def __init__(self) -> None:
        self.types: list[Any] = []
        self.slots: list[dict[str, Any]] = []

    def of(self, type_: Any) -> dict[str, Any]:
        """A placeholder filled in by `resolve()`."""
        slot: dict[str, Any] = {}
        self.types.append(type_)
        self.slots.append(slot)
        return slot

    def resolve(self) -> dict[str, Any]:
        schemas, components = msgspec.json.schema_components(self.types, ref_template=REF)
        for slot, schema in zip(self.slots, schemas, strict=True):
            slot.update(schema)
        return dict(sorted(components.items()))


def _parameter(param: Param, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": schemas.of(param.type),
    }
    if param.example is not NO_EXAMPLE:
        out["example"] = param.example
    return out


def _header(header: Header, schemas: _Schemas) -> dict[str, Any]:
    return {"description": header.description, "required": header.required, "schema": schemas.of(header.type)}


def _reply(reply: Reply, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        out["headers"] = {h.name: _header(h, schemas) for h in reply.headers}
    content: dict[str, Any] = {}
    for media in reply.media:
        if media == JSON:
            content[media] = {} if reply.body is None else {"schema": schemas.of(reply.body)}
        else:
            content[media] = {"schema": {"type": "string"}}
    if content:
        out["content"] = content
    return out


def _operation(path: str, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    named = {p.name for p in op.params if p.where == "path"}
    wanted = set(_PARAMS.findall(path))
    if named != wanted:
        raise ValueError(f"{op.id}: path parameters {sorted(named)} do not match {path}")
    out: dict[str, Any] = {"operationId": op.id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    if op.params:
        out["parameters"] = [_parameter(p, schemas) for p in op.params]
    if op.body is not None:
        media: dict[str, Any] = {"schema": schemas.of(op.body)}
        if op.examples:
            media["examples"] = {name: {"value": value} for name, value in op.examples.items()}
        out["requestBody"] = {
            "required": True,
            "description": op.body_description,
            "content": {m: media for m in op.body_media},
        }
    out["responses"] = {str(r.status): _reply(r, schemas) for r in sorted(op.replies, key=lambda r: r.status)}
    out["security"] = [{op.security: []}] if op.security else []
    return out


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every `ApiRoute` among `routes`."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for path, method, op in operations(routes):
        if op.id in seen:
            raise ValueError(f"operation id {op.id} is used twice")
        seen.add(op.id)
        item = paths.setdefault(path, {})
        if method in item:
            raise ValueError(f"{method.upper()} {path} is documented twice")
        item[method] = _operation(path, op, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "OpenEngage",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "WebEngage", "description": "The WebEngage REST API: users and events."},
            {"name": "MoEngage", "description": "The MoEngage Data API."},
            {"name": "Read API", "description": "OpenEngage's own reads: profiles, events, stats, data quality."},
            {"name": "Operations", "description": "Health, metrics and this document."},
        ],
        "paths": paths,
        "components": {"schemas": schemas.resolve(), "securitySchemes": SECURITY_SCHEMES},
    }


async def endpoint(request: Request) -> Response:
    state = request.app.state
    body: bytes | None = getattr(state, "openapi_json", None)
    if body is None:
        body = state.openapi_json = msgspec.json.encode(document(request.app.routes))
    return Response(body, media_type=JSON)


OPERATION = Operation(
    id="openapi",
    summary="This document",
    tag="Operations",
    description="The OpenAPI 3.1 document of every HTTP route of the API, generated from the routes and the "
    "msgspec types that validate their requests.",
    replies=(Reply(200, "The OpenAPI document.", dict[str, Any]),),
)
