"""OpenEngage's read API: profiles, events, stats, schema, rejections, merges, dead letters.

Same Bearer key and permissions as the WebEngage ingest endpoints, same response container. Every
query is scoped to the account of the license code in the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openengage.accounts import Account
from openengage.api import webengage_responses as we
from openengage.api.services import services
from openengage.api.webengage import PREFIX, Refused, authenticate, response_format
from openengage.rules.dates import format_ms
from openengage.store.base import DeadLetter
from openengage.store.common import profile_doc

DEFAULT_PAGE = 50
MAX_PAGE = 1000

Handler = Callable[[Request, Account, str], Awaitable[Response]]


def read_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            fmt = response_format(request)
            account = await authenticate(request, fmt)
            return await handler(request, account, fmt)
        except Refused as refused:
            return refused.response

    return handle


def page_args(request: Request, fmt: str) -> tuple[int, str | None]:
    raw = request.query_params.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Refused(we.error(400, f"Error: limit must be a whole number from 1 to {MAX_PAGE}.", fmt))
    return int(raw), request.query_params.get("cursor") or None


def bad_cursor(fmt: str) -> Refused:
    return Refused(we.error(400, "Error: cursor is not valid; pass the `next` value of the previous page.", fmt))


async def _profile(request: Request, account: Account, fmt: str, kind: str, value: str) -> Response:
    found = await services(request).store.profile(account.id, kind, value)
    if found is None:
        label = "user" if kind == "u" else "anonymous user"
        return we.error(404, f"Error: no {label} '{value}' in this account.", fmt)
    return we.success(profile_doc(found), fmt)


async def user(request: Request, account: Account, fmt: str) -> Response:
    return await _profile(request, account, fmt, "u", request.path_params["user_id"])


async def anonymous_user(request: Request, account: Account, fmt: str) -> Response:
    return await _profile(request, account, fmt, "a", request.path_params["anonymous_id"])


async def user_events(request: Request, account: Account, fmt: str) -> Response:
    store = services(request).store
    user_id = request.path_params["user_id"]
    limit, cursor = page_args(request, fmt)
    found = await store.profile(account.id, "u", user_id)
    if found is None:
        return we.error(404, f"Error: no user '{user_id}' in this account.", fmt)
    try:
        page = await store.events(account.id, found.id, limit, cursor)
    except ValueError:
        raise bad_cursor(fmt) from None
    return we.success({"events": page.items, "next": page.next}, fmt)


async def stats(request: Request, account: Account, fmt: str) -> Response:
    store = services(request).store
    s = await store.stats(account.id)
    dead = await store.count_dead_letters(account.id)
    return we.success(
        {"users": s.users, "anonymousUsers": s.anonymous_users, "events": s.events, "pending": s.pending}
        | {"deadLetters": dead},
        fmt,
    )


async def schema(request: Request, account: Account, fmt: str) -> Response:
    return we.success(await services(request).store.schema(account.id), fmt)


async def rejections(request: Request, account: Account, fmt: str) -> Response:
    limit, cursor = page_args(request, fmt)
    user_id = request.query_params.get("userId") or None
    try:
        page = await services(request).store.rejections(account.id, limit, cursor, user_id)
    except ValueError:
        raise bad_cursor(fmt) from None
    return we.success({"rejections": page.items, "next": page.next}, fmt)


async def merges(request: Request, account: Account, fmt: str) -> Response:
    limit, cursor = page_args(request, fmt)
    try:
        page = await services(request).store.merges(account.id, limit, cursor)
    except ValueError:
        raise bad_cursor(fmt) from None
    return we.success({"merges": page.items, "next": page.next}, fmt)


def dead_letter_doc(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as the read API returns it; `payload` is the entry's records (OpenEngage's own
    record format), or their raw text when they are not even valid JSON."""
    try:
        payload: Any = msgspec.json.decode(letter.payload)
    except (msgspec.DecodeError, RecursionError):
        payload = letter.payload.decode("utf-8", "replace")
    return {
        "id": letter.id,
        "logId": letter.log_id,
        "error": letter.error,
        "message": letter.message,
        "records": letter.records,
        "attempts": letter.attempts,
        "requeued": letter.requeued,
        "receivedAt": format_ms(letter.received_at),
        "failedAt": format_ms(letter.failed_at),
        "payload": payload,
    }


async def dead_letters(request: Request, account: Account, fmt: str) -> Response:
    limit, cursor = page_args(request, fmt)
    try:
        page = await services(request).store.dead_letters(account.id, limit, cursor)
    except ValueError:
        raise bad_cursor(fmt) from None
    return we.success({"deadLetters": [dead_letter_doc(d) for d in page.items], "next": page.next}, fmt)


# User ids may hold any character, "/" included (sent as %2F), hence the `path` convertor; the
# events route comes first so that ".../events" is not read as part of a user id.
routes = [
    Route(f"{PREFIX}/users/{{user_id:path}}/events", read_route(user_events), methods=["GET"]),
    Route(f"{PREFIX}/users/{{user_id:path}}", read_route(user), methods=["GET"]),
    Route(f"{PREFIX}/anonymous-users/{{anonymous_id:path}}", read_route(anonymous_user), methods=["GET"]),
    Route(f"{PREFIX}/stats", read_route(stats), methods=["GET"]),
    Route(f"{PREFIX}/schema", read_route(schema), methods=["GET"]),
    Route(f"{PREFIX}/rejections", read_route(rejections), methods=["GET"]),
    Route(f"{PREFIX}/merges", read_route(merges), methods=["GET"]),
    Route(f"{PREFIX}/dead-letters", read_route(dead_letters), methods=["GET"]),
]
