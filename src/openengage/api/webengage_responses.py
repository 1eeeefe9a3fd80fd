"""WebEngage response container, in JSON (default) or XML (`?format=xml`). One helper per dialect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.responses import Response

from openengage.api.xml import to_xml

_encode = msgspec.json.encode
QUEUED_JSON = _encode({"response": {"status": "queued"}})


def container(body: Mapping[str, Any], status: int, fmt: str, headers: Mapping[str, str] | None = None) -> Response:
    if fmt == "xml":
        return Response(to_xml("response", body), status, headers, media_type="application/xml")
    return Response(_encode({"response": body}), status, headers, media_type="application/json")


def queued(fmt: str, headers: Mapping[str, str] | None = None) -> Response:
    if fmt == "json":
        return Response(QUEUED_JSON, 201, headers, media_type="application/json")
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
