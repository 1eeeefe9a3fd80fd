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
from typing import Any

import msgspec
from starlette.responses import Response

_encode = msgspec.json.encode
_LETTERS = string.ascii_letters
ACCEPTED = "Your request has been accepted and will be processed soon."


def new_request_id() -> str:
    """8 random letters. Not a secret: one urandom call, a slight modulo bias is fine."""
    return "".join([_LETTERS[b % 52] for b in os.urandom(8)])


def _json(body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None) -> Response:
    return Response(_encode(body), status, headers, media_type="application/json")


_SUCCESS_HEAD = _encode({"status": "success", "message": ACCEPTED})[:-1] + b',"request_id":"'


def success(request_id: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """200 accepted. `extra` adds vendor fields some endpoints document (merge: `operation`)."""
    if extra:
        return _json({"status": "success", "message": ACCEPTED, **extra, "request_id": request_id}, 200, headers)
    body = _SUCCESS_HEAD + request_id.encode() + b'"}'  # the hot path: no dict, no encoder
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
