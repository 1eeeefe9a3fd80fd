"""The operations an HTTP route offers, as `GET /openapi.json` describes them.

A route declared as `ApiRoute` (a Starlette `Route`) carries the `Operation`s that document it, next to
the code that serves it: adding a route and documenting it is one change, in one place. api/openapi.py
walks the app's routes and builds the OpenAPI document from these; a test fails for a route that
carries none. Bodies are msgspec types (their JSON Schema comes from `msgspec.json.schema_components`):
a request body's type is the one the route's validator admits the body with (see the dialects'
`*_schema.py`), so the document and the validator cannot drift apart.

This is a leaf: every part that serves HTTP (api, dashboard, messaging) may declare its routes with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import msgspec
from starlette.routing import Route

# Security schemes (api/openapi.py defines them in the document).
BEARER = "bearerAuth"  # WebEngage REST API key: `Authorization: Bearer <key>`
BASIC = "basicAuth"  # MoEngage Data API: `Authorization: Basic base64(app_id:data_api_key)`

JSON = "application/json"
XML = "application/xml"


def described(type_: Any, description: str, **constraints: Any) -> Any:
    """`type_` with a description (and msgspec constraints) for the document."""
    return Annotated[type_, msgspec.Meta(description=description, **constraints)]


def anycase(*words: str) -> str:
    """A regex matching any of `words` in any letter case (JSON Schema patterns take no flags).

    Only the characters special in both Python's and ECMA-262's syntax are escaped (ECMA's unicode mode
    refuses needless escapes such as `\\-`)."""

    def char(c: str) -> str:
        if c.isalpha():
            return f"[{c.upper()}{c.lower()}]"
        return "\\" + c if c in _SPECIAL else c

    return "|".join("".join(char(c) for c in word) for word in words)


_SPECIAL = frozenset("\\^$.|?*+()[]{}")


class _NoExample:
    def __repr__(self) -> str:
        return "NO_EXAMPLE"


NO_EXAMPLE: Any = _NoExample()


@dataclasses.dataclass(frozen=True)
class Param:
    """A path, query or header parameter of a request."""

    name: str
    where: Literal["path", "query", "header"]
    description: str
    type: Any = str  # a msgspec type (Annotated with msgspec.Meta for constraints)
    required: bool = False  # path parameters are always required
    example: Any = NO_EXAMPLE


@dataclasses.dataclass(frozen=True)
class Header:
    """A response header."""

    name: str
    description: str
    type: Any = str
    required: bool = False  # True only where every response of that status carries it


@dataclasses.dataclass(frozen=True)
class Reply:
    """One documented response: its status, body type per media type, headers.

    `body` is the msgspec type of the JSON body (None: no schema). Media types other than JSON carry
    text (the XML of WebEngage's `?format=xml`, Prometheus' exposition format): documented as a string.
    """

    status: int
    description: str
    body: Any = None
    media: tuple[str, ...] = (JSON,)
    headers: tuple[Header, ...] = ()


@dataclasses.dataclass(frozen=True)
class Operation:
    """One OpenAPI operation (a method on a path).

    `path` is the OpenAPI path when it is not the route's own (one Starlette route may serve several
    documented paths, e.g. a user and the user's events); `method` when the route has several methods.
    """

    id: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    description: str = ""
    security: str | None = None
    params: tuple[Param, ...] = ()
    body: Any = None  # the msgspec type that admits the JSON request body
    body_description: str = ""
    body_media: tuple[str, ...] = (JSON,)
    examples: dict[str, Any] = dataclasses.field(default_factory=dict)  # named request-body examples
    path: str | None = None
    method: str | None = None


class ApiRoute(Route):
    """A Starlette route with the operations that document it in `GET /openapi.json`."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str],
        operations: Operation | Sequence[Operation],
        **kwargs: Any,
    ) -> None:
        super().__init__(path, endpoint, methods=list(methods), **kwargs)
        self.operations: tuple[Operation, ...] = (
            (operations,) if isinstance(operations, Operation) else tuple(operations)
        )
