"""OpenEngage's read API: profiles, events, stats, schema, rejections, merges, dead letters.

Same Bearer key and permissions as the WebEngage ingest endpoints, same response container. Every
query is scoped to the account of the license code in the path. The store returns typed rows; the
documents are built in api/shapes.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote

from msgspec import Meta
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from openengage.accounts import Account
from openengage.api import shapes
from openengage.api import webengage_responses as we
from openengage.api.services import services
from openengage.api.webengage import (
    FORMAT,
    LICENSE_CODE,
    MAX_REQUEST_ID,
    PREFIX,
    Refused,
    authenticate,
    response_format,
)
from openengage.operations import BEARER, ApiRoute, Operation, Param, Reply
from openengage.store.base import InvalidCursor, Page

DEFAULT_PAGE = 50
MAX_PAGE = 1000
_PAGE_SIZE = re.compile(r"[0-9]{1,4}")  # ASCII digits only: str.isdigit() also takes "²" and "①"

Handler = Callable[[Request, Account, str], Awaitable[Response]]
T = TypeVar("T")


class AnyPath(Convertor[str]):
    """Starlette's `path`, newlines included: an id may hold any character, and `.` stops at a newline."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", AnyPath())


def read_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        fmt = "json"
        try:
            fmt = response_format(request)
            account = await authenticate(request, fmt)
            if "\x00" in request.scope["path"]:  # no id holds NUL (the edge refuses it), and PostgreSQL
                return we.error(404, "Error: no such resource.", fmt)  # text cannot even be compared to one
            if any("\x00" in v for v in request.query_params.values()):
                return we.error(400, "Error: query parameters cannot contain the NUL character.", fmt)
            return await handler(request, account, fmt)
        except Refused as refused:
            return refused.response
        except InvalidCursor:
            return we.error(400, "Error: cursor is not valid; pass the `next` value of the previous page.", fmt)

    return handle


def page_args(request: Request, fmt: str) -> tuple[int, str | None]:
    raw = request.query_params.get("limit", str(DEFAULT_PAGE))
    if not _PAGE_SIZE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise Refused(we.error(400, f"Error: limit must be a whole number from 1 to {MAX_PAGE}.", fmt))
    return int(raw), request.query_params.get("cursor") or None


def listing(name: str, page: Page[T], shape: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {name: [shape(item) for item in page.items], "next": page.next}


async def _profile(request: Request, account: Account, fmt: str, kind: str, value: str) -> Response:
    found = await services(request).store.profile(account.id, kind, value)
    if found is None:
        label = "user" if kind == "u" else "anonymous user"
        return we.error(404, f"Error: no {label} '{value}' in this account.", fmt)
    return we.success(shapes.profile_doc(found), fmt)


def user_path(request: Request) -> tuple[str, bool]:
    """(user id, events?) of `.../users/{userId}[/events]`, read from the raw path.

    Starlette routes on the decoded path, where `users/x%2Fevents` (the user `x/events`) and
    `users/x/events` (the events of `x`) are the same string. In the raw path only a literal `/events`
    names the events; `%2F` is part of the id.
    """
    raw = request.scope.get("raw_path")
    if not raw:  # servers may omit raw_path (ASGI): fall back to the decoded path
        rest = request.path_params["rest"]
        return (rest[: -len("/events")], True) if rest.endswith("/events") else (rest, False)
    tail = raw.decode("latin-1").split("/users/", 1)[1]
    if tail.endswith("/events") and len(tail) > len("/events"):
        return unquote(tail[: -len("/events")]), True  # decoded as the server decodes paths (UTF-8)
    return unquote(tail), False


async def users(request: Request, account: Account, fmt: str) -> Response:
    user_id, events = user_path(request)
    if not events:
        return await _profile(request, account, fmt, "u", user_id)
    store = services(request).store
    limit, cursor = page_args(request, fmt)
    found = await store.profile(account.id, "u", user_id)
    if found is None:
        return we.error(404, f"Error: no user '{user_id}' in this account.", fmt)
    page = await store.events(account.id, found.id, limit, cursor)
    return we.success(listing("events", page, shapes.event_doc), fmt)


async def anonymous_user(request: Request, account: Account, fmt: str) -> Response:
    return await _profile(request, account, fmt, "a", request.path_params["anonymous_id"])


async def stats(request: Request, account: Account, fmt: str) -> Response:
    store = services(request).store
    doc = shapes.stats_doc(await store.stats(account.id))
    return we.success(doc | {"deadLetters": await store.count_dead_letters(account.id)}, fmt)


async def schema(request: Request, account: Account, fmt: str) -> Response:
    return we.success(shapes.schema_doc(await services(request).store.schema(account.id)), fmt)


async def rejections(request: Request, account: Account, fmt: str) -> Response:
    limit, cursor = page_args(request, fmt)
    user_id = request.query_params.get("userId") or None
    page = await services(request).store.rejections(account.id, limit, cursor, user_id)
    return we.success(listing("rejections", page, shapes.rejection_doc), fmt)


async def merges(request: Request, account: Account, fmt: str) -> Response:
    limit, cursor = page_args(request, fmt)
    page = await services(request).store.merges(account.id, limit, cursor)
    return we.success(listing("merges", page, shapes.merge_doc), fmt)


async def dead_letters(request: Request, account: Account, fmt: str) -> Response:
    limit, cursor = page_args(request, fmt)
    page = await services(request).store.dead_letters(account.id, limit, cursor)
    return we.success(listing("deadLetters", page, shapes.dead_letter_doc), fmt)


async def request_trace(request: Request, account: Account, fmt: str) -> Response:
    request_id = request.path_params["request_id"]
    trace = None
    if request_id and len(request_id) <= MAX_REQUEST_ID:
        trace = await services(request).store.request_trace(account.id, request_id)
    if trace is None:
        return we.error(404, f"Error: no request '{request_id}' in this account (traces are kept 72 hours).", fmt)
    return we.success(shapes.trace_doc(trace), fmt)


# ---------------------------------------------------------------- routes and their documentation

LIMIT = Param(
    "limit", "query", f"Page size, 1 to {MAX_PAGE} (default {DEFAULT_PAGE}).", Annotated[int, Meta(ge=1, le=MAX_PAGE)]
)
CURSOR = Param("cursor", "query", "The `next` value of the previous page.")
USER_ID = Param("user_id", "path", "The user id (URL-encoded: `/` as `%2F`).", example="johndoe21#")
READ_REPLIES = (
    Reply(400, "A bad `format`, `limit` or `cursor`, or NUL in a query parameter.", we.WebEngageError, we.BOTH),
    *we.AUTH_REPLIES,
    *we.FAILURE_REPLIES,
)


def read_doc(
    op_id: str, summary: str, data: Any, *params: Param, path: str | None = None, not_found: str = ""
) -> Operation:
    """A read-API operation: `data` is the type of `response.data` on success."""
    found = Reply(200, "Found.", we.success_type(f"{op_id[0].upper()}{op_id[1:]}Response", data, summary), we.BOTH)
    replies = [found, *READ_REPLIES]
    if not_found:
        missing = f"No account has this license code, or {not_found}."
        replies = [r if r.status != 404 else Reply(404, missing, we.WebEngageError, we.BOTH) for r in replies]
    return Operation(
        id=op_id,
        summary=summary,
        tag="Read API",
        security=BEARER,
        params=(LICENSE_CODE, *params, FORMAT),
        replies=tuple(replies),
        path=path,
        method="GET",
    )


# User ids may hold any character, "/" included (sent as %2F): one route takes the rest of the path and
# `user_path` splits it on the raw path (see there). It serves two documented paths.
routes = [
    ApiRoute(
        f"{PREFIX}/users/{{rest:anypath}}",
        read_route(users),
        methods=["GET"],
        operations=(
            read_doc(
                "readUser",
                "A user's profile",
                shapes.ProfileDoc,
                USER_ID,
                path=f"{PREFIX}/users/{{user_id}}",
                not_found="no such user",
            ),
            read_doc(
                "readUserEvents",
                "A user's events, newest first",
                shapes.EventsPage,
                USER_ID,
                LIMIT,
                CURSOR,
                path=f"{PREFIX}/users/{{user_id}}/events",
                not_found="no such user",
            ),
        ),
    ),
    ApiRoute(
        f"{PREFIX}/anonymous-users/{{anonymous_id:anypath}}",
        read_route(anonymous_user),
        methods=["GET"],
        operations=read_doc(
            "readAnonymousUser",
            "An anonymous user's profile",
            shapes.ProfileDoc,
            Param("anonymous_id", "path", "The anonymous id (URL-encoded).", example="a-1f2e"),
            not_found="no such anonymous user",
        ),
    ),
    ApiRoute(
        f"{PREFIX}/stats",
        read_route(stats),
        methods=["GET"],
        operations=read_doc("readStats", "Counts", shapes.StatsDoc),
    ),
    ApiRoute(
        f"{PREFIX}/schema",
        read_route(schema),
        methods=["GET"],
        operations=read_doc("readSchema", "The attribute catalogue", shapes.SchemaDoc),
    ),
    ApiRoute(
        f"{PREFIX}/rejections",
        read_route(rejections),
        methods=["GET"],
        operations=read_doc(
            "readRejections",
            "Every datum dropped or truncated, with its reason",
            shapes.RejectionsPage,
            LIMIT,
            CURSOR,
            Param("userId", "query", "Only this user's."),
        ),
    ),
    ApiRoute(
        f"{PREFIX}/merges",
        read_route(merges),
        methods=["GET"],
        operations=read_doc("readMerges", "The merge ledger", shapes.MergesPage, LIMIT, CURSOR),
    ),
    ApiRoute(
        f"{PREFIX}/dead-letters",
        read_route(dead_letters),
        methods=["GET"],
        operations=read_doc(
            "readDeadLetters",
            "Log entries the processor could not apply, with their error",
            shapes.DeadLettersPage,
            LIMIT,
            CURSOR,
        ),
    ),
    ApiRoute(
        f"{PREFIX}/requests/{{request_id:anypath}}",
        read_route(request_trace),
        methods=["GET"],
        operations=read_doc(
            "readRequestTrace",
            "The trace of one accepted ingest request",
            shapes.TraceDoc,
            Param(
                "request_id",
                "path",
                "The request's x-request-id: the client's, or the one OpenEngage assigned (URL-encoded).",
                example="0192f8e4-6c1a-7b3e-9d2f-4a5b6c7d8e9f",
            ),
            not_found="no request with this id in the last 72 hours",
        ),
    ),
]
