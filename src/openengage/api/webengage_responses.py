"""WebEngage response container, in JSON (default) or XML (`?format=xml`). One helper per dialect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from starlette.responses import Response

from openengage.api.xml import to_xml
from openengage.operations import JSON, XML, Header, Reply

_encode = msgspec.json.encode
QUEUED_JSON = _encode({"response": {"status": "queued"}})


def container(body: Mapping[str, Any], status: int, fmt: str, headers: Mapping[str, str] | None = None) -> Response:
    if fmt == "xml":
        return Response(to_xml("response", body), status, headers, media_type="application/xml")
    return Response(_encode({"response": body}), status, headers, media_type="application/json")


class _Ready(Response):
    """A response from ready bytes and headers: Starlette's header normalisation is a few µs of the ingest
    hot path, and these headers are ours (names in lower case, values ASCII)."""

    def __init__(self, body: bytes, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code, self.body, self.raw_headers, self.background = status, body, raw_headers, None


_QUEUED_HEADERS = [(b"content-length", str(len(QUEUED_JSON)).encode()), (b"content-type", b"application/json")]


def queued(fmt: str, headers: Mapping[str, str] | None = None) -> Response:
    if fmt == "json":
        if not headers:
            return _Ready(QUEUED_JSON, 201, list(_QUEUED_HEADERS))
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        return _Ready(QUEUED_JSON, 201, raw + _QUEUED_HEADERS)
    return container({"status": "queued"}, 201, fmt, headers)


def success(data: Any, fmt: str) -> Response:
    return container({"data": data, "message": "success", "status": "success"}, 200, fmt)


def error(
    status: int,
    message: str,
    fmt: str = "json",
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    body: dict[str, Any] = {"message": message, "status": "error"}
    if errors:
        body["errors"] = errors
    return container(body, status, fmt, headers)


# ---------------------------------------------------------------- the shapes above, for GET /openapi.json


class WebEngageQueuedBody(msgspec.Struct):
    status: Literal["queued"]


class WebEngageQueued(msgspec.Struct):
    """Accepted: durably committed, to be processed."""

    response: WebEngageQueuedBody


class WebEngageRecordError(msgspec.Struct):
    index: int
    message: str


class WebEngageErrorBody(msgspec.Struct):
    message: Annotated[str, msgspec.Meta(description="Names the field and what is wrong.")]
    status: Literal["error"]
    errors: (
        Annotated[list[WebEngageRecordError], msgspec.Meta(description="Bulk: each invalid record.")] | UnsetType
    ) = UNSET


class WebEngageError(msgspec.Struct):
    """A refusal in WebEngage's container: nothing was queued."""

    response: WebEngageErrorBody


def success_type(name: str, data: Any, description: str, message: Any = Literal["success"]) -> Any:
    """The read API's `{"response": {"data": …, "message": "success", "status": "success"}}` for one `data` type."""
    body = msgspec.defstruct(
        f"{name}Body",
        [("data", data), ("message", message), ("status", Literal["success"])],
        module=__name__,
    )
    container: Any = msgspec.defstruct(name, [("response", body)], module=__name__)
    container.__doc__ = description
    return container


BOTH = (JSON, XML)
RATE_LIMIT = (
    Header("X-RateLimit-Limit", "Requests per minute this endpoint allows the account (absent: unlimited).", int),
    Header("X-RateLimit-Remaining", "Requests left in the current minute.", int),
)
LIMITED = (
    Header("X-RateLimit-Limit", RATE_LIMIT[0].description, int, required=True),
    Header("X-RateLimit-Remaining", RATE_LIMIT[1].description, int, required=True),
    Header("Retry-After", "Seconds until the next minute starts.", int, required=True),
)
RETRY_AFTER = (Header("Retry-After", "Seconds to wait before retrying.", int, required=True),)
REQUEST_ID = Header(
    "x-request-id",
    "The request id OpenEngage assigned (a UUIDv7), sent when the request carried none: its trace is "
    "`GET /v1/accounts/{licenseCode}/requests/{requestId}`.",
)


def _error(status: int, description: str, headers: tuple[Header, ...] = ()) -> Reply:
    return Reply(status, description, WebEngageError, BOTH, headers)


# Replies every route of the WebEngage container gives, after its own.
AUTH_REPLIES = (
    _error(401, "The Bearer key is missing, wrong or revoked, or its member lacks the needed permissions."),
    _error(404, "No account has this license code."),
)
FAILURE_REPLIES = (
    Reply(500, "An unexpected error; nothing was queued.", WebEngageError),
    _error(
        503,
        "The store is unavailable; nothing was queued (or, if it failed while committing, the message says so).",
        RETRY_AFTER,
    ),
)
INGEST_REPLIES = (
    Reply(201, "Queued: durably committed.", WebEngageQueued, BOTH, (*RATE_LIMIT, REQUEST_ID)),
    _error(
        400,
        "Bad input (the message names the field; bulk: `errors` lists each bad record); nothing was "
        "queued. Also for a `format` other than json or xml.",
        RATE_LIMIT,
    ),
    *AUTH_REPLIES,
    _error(413, "The body is over the size limit.", RATE_LIMIT),
    _error(415, "The Content-Type is not JSON.", RATE_LIMIT),
    _error(429, "Over the account's per-minute limit for this endpoint.", LIMITED),
    *FAILURE_REPLIES,
)
