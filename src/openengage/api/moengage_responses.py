"""MoEngage Data API response bodies. One helper per dialect: every MoEngage answer is built here.

Success: `{"status":"success","message":"Your request has been accepted and will be processed soon.",
"request_id":"kXwpDESb"}`. Failure: `{"status":"fail","error":{"type":…,"message":…,"attribute":…,
"request_id":…}}`, with `attribute` only on field-level errors. Request ids are 8 random letters, as in
every vendor example.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from starlette.responses import Response

from openengage.operations import Header, Reply

_encode = msgspec.json.encode
_LETTERS = string.ascii_letters
ACCEPTED = "Your request has been accepted and will be processed soon."


def new_request_id() -> str:
    """8 random letters. Not a secret: one urandom call, a slight modulo bias is fine."""
    return "".join([_LETTERS[b % 52] for b in os.urandom(8)])


def _json(body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None) -> Response:
    return Response(_encode(body), status, headers, media_type="application/json")


_SUCCESS_HEAD = _encode({"status": "success", "message": ACCEPTED})[:-1] + b',"request_id":'


def success(request_id: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """200 accepted. `extra` adds vendor fields some endpoints document (merge: `operation`)."""
    if extra:
        return _json({"status": "success", "message": ACCEPTED, **extra, "request_id": request_id}, 200, headers)
    body = _SUCCESS_HEAD + _encode(request_id) + b"}"  # the hot path: no dict (the id may be a client's)
    return Response(body, 200, headers, media_type="application/json")


def export(request_id: str, data: Mapping[str, Any]) -> Response:
    """Get User's answer: `{"status":"success","type":"export_users","data":{…}}`."""
    return _json({"status": "success", "type": "export_users", "data": data, "request_id": request_id}, 200, None)


def fail(
    status: int,
    error_type: str,
    message: str,
    request_id: str,
    attribute: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if attribute is not None:
        error["attribute"] = attribute
    error["request_id"] = request_id
    return _json({"status": "fail", "error": error}, status, headers)


# ---------------------------------------------------------------- the shapes above, for GET /openapi.json

_REQUEST_ID = Annotated[str, msgspec.Meta(description="8 random letters naming this request.", examples=["kXwpDESb"])]


class MoEngageAccepted(msgspec.Struct):
    """Accepted: durably committed, to be processed."""

    status: Literal["success"]
    message: str
    request_id: _REQUEST_ID


class MoEngageMerged(msgspec.Struct):
    """Accepted: durably committed, to be processed."""

    status: Literal["success"]
    message: str
    operation: Literal["created"]
    request_id: _REQUEST_ID


class MoEngageNotFound(msgspec.Struct):
    identifier_type: Literal["customer_id", "moengage_id", "id"]
    identifier: str


class MoEngageExportedUser(msgspec.Struct):
    user_attributes: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="customer_id, the MoEngage ID (`id`), the standard attributes under MoEngage's names, "
            "custom attributes."
        ),
    ]


class MoEngageExportData(msgspec.Struct):
    users_not_found: list[MoEngageNotFound]
    users: list[MoEngageExportedUser]


class MoEngageExported(msgspec.Struct):
    """The users asked for."""

    status: Literal["success"]
    type: Literal["export_users"]
    data: MoEngageExportData
    request_id: _REQUEST_ID


class MoEngageErrorDetail(msgspec.Struct, kw_only=True):
    type: Annotated[str, msgspec.Meta(description="The vendor's error type, e.g. MissingAttributeError.")]
    message: str
    attribute: Annotated[str, msgspec.Meta(description="The field at fault, when one is.")] | UnsetType = UNSET
    request_id: _REQUEST_ID


class MoEngageFailure(msgspec.Struct):
    """A refusal in MoEngage's shape: nothing was stored."""

    status: Literal["fail"]
    error: MoEngageErrorDetail


RATE_LIMIT = (
    Header("x-ratelimit-limit", "Records per minute the account may send to this bucket (absent: unlimited).", int),
    Header("x-ratelimit-remaining", "Records left in the current minute.", int),
    Header("x-ratelimit-reset", "Seconds until the current minute ends.", int),
)
LIMITED = (
    *(Header(h.name, h.description, int, required=True) for h in RATE_LIMIT),
    Header("Retry-After", "Seconds until the next minute starts.", int, required=True),
)
RETRY_AFTER = (Header("Retry-After", "Seconds to wait before retrying.", int, required=True),)
REQUEST_ID = Header(
    "x-request-id",
    "The body's request_id, sent when the request carried no x-request-id: its trace is "
    "`GET /v1/accounts/{licenseCode}/requests/{requestId}` (the WebEngage license code of the same account).",
)


def _fail(status: int, description: str, headers: tuple[Header, ...] = ()) -> Reply:
    return Reply(status, description, MoEngageFailure, headers=headers)


def replies(success: Reply, limited: bool = True) -> tuple[Reply, ...]:
    """Every reply of a Data API route: `success`, then the failures (with rate-limit headers if `limited`)."""
    rate = RATE_LIMIT if limited else ()
    return (
        success,
        _fail(400, "Bad input, a missing app id or Content-Type (type and message name what is wrong).", rate),
        _fail(
            401,
            "Authentication failed: no or malformed Basic auth, an unknown app id, a wrong Data API key, "
            "or a MOE-APPKEY other than the app id.",
        ),
        _fail(409, "The app id of the path or query differs from the Basic-auth user, or no Data API key is set."),
        _fail(413, "The body is over 128 KB.", rate),
        _fail(415, "The Content-Type is not JSON.", rate),
        *((_fail(429, "Over the account's per-minute limit.", LIMITED),) if limited else ()),
        _fail(500, "An unexpected error; nothing was stored."),
        _fail(
            503,
            "The store is unavailable; nothing was stored (or, failing while committing, the message says so).",
            RETRY_AFTER,
        ),
    )
