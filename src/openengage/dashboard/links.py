"""What the data pages (users, profile, live tail, data quality) share: links to a profile and to a
record's trace, ids read from the raw path, and client values as display text.

Ids may hold any character: `/`, `%`, newlines, markup. A profile link quotes the whole id (`/` as
`%2F`), and the page reads it back from the raw path, as the read API does (api/read.py `user_path`).
Browsers resolve `.` and `..` path segments (also as `%2E`) before sending, so those two ids (and the
empty one) go in the query string instead: `users/?id=..`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import msgspec
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from openengage.dashboard.pages import PAGES
from openengage.store.base import Event

_encode = msgspec.json.Encoder().encode
_UNSAFE_SEGMENTS = ("", ".", "..")


class AnyText(Convertor[str]):
    """Starlette's `path`, newlines included (`.` in its regex stops at a newline)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anytext", AnyText())


def id_path(prefix: str, value: str) -> str:
    """`prefix/<value quoted>` relative to the account, or `prefix/?id=…` for ids a browser would resolve."""
    if value in _UNSAFE_SEGMENTS:
        return f"{prefix}/?id={quote(value, safe='')}"
    return f"{prefix}/{quote(value, safe='')}"


def profile_path(user_id: str | None, anonymous_id: str | None) -> str | None:
    """The profile page of a known user (`users/…`) or of an anonymous one (`anonymous-users/…`)."""
    if user_id is not None:
        return id_path("users", user_id)
    if anonymous_id is not None:
        return id_path("anonymous-users", anonymous_id)
    return None


EVENT_TRACE = "events/{event_id:int}/trace"  # the trace pages' route from an event to its request's trace


def trace_path(event: Event) -> str | None:
    """The trace of the request that brought `event`, relative to the account: the trace pages' route
    `events/{id}/trace` (it redirects to `requests/{requestId}`), when the dashboard has it."""
    if not any(p.path == EVENT_TRACE for p in PAGES):
        return None
    return f"events/{event.id}/trace"


def raw_id(request: Request, prefix: str) -> str:
    """The id after `/<prefix>/` in the raw path (`%2F` is part of the id), or `?id=` when that is empty."""
    raw = request.scope.get("raw_path")
    if raw:
        tail = raw.decode("latin-1").split(f"/{prefix}/", 1)[1]
        value = unquote(tail)  # decoded as the server decodes paths (UTF-8)
    else:  # servers may omit raw_path (ASGI): the decoded path
        value = str(request.path_params.get("value", ""))
    return value if value else request.query_params.get("id", "")


def display(value: Any) -> str:
    """A stored value as text: strings as they are, everything else as JSON (never Python's repr)."""
    if isinstance(value, str):
        return value
    try:
        return _encode(value).decode()
    except (TypeError, msgspec.EncodeError, RecursionError):
        return repr(value)
