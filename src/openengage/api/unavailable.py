"""503 while the store cannot be reached or cannot commit, in the dialect's own error shape.

The stores raise `StoreUnavailable` (or its `CommitUnknown`) and the app maps it here, for every route:
ingest, reads and Get User alike. The answer says honestly what happened to the request: nothing was
stored, or (a connection lost during COMMIT) that nobody can know, and what a retry does then.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response

from openengage.api import gdpr, moengage
from openengage.api import moengage_responses as moe
from openengage.api import webengage_responses as we
from openengage.errors import CommitUnknown, StoreUnavailable

log = logging.getLogger("openengage.api")

MOENGAGE_TYPE = "Service Unavailable"
LOG_EVERY = 5.0  # seconds: one warning per process per interval, not one per request during an outage
_last_logged = [0.0]


def _log(exc: StoreUnavailable) -> None:
    now = time.monotonic()
    if now - _last_logged[0] >= LOG_EVERY:
        _last_logged[0] = now
        log.warning("store unavailable, answering 503: %s", exc, extra={"action": "store_unavailable"})


def webengage_message(
    exc: StoreUnavailable, method: str, request_id: str | None, retry_after: int, path: str = ""
) -> str:
    if isinstance(exc, CommitUnknown):
        if path.endswith("/transaction"):  # the transaction API dedupes by txnId, not by x-request-id
            safe = (
                "Retrying with the same txnId and a dedupe.ttl is safe: a txnId accepted within its window "
                "is not sent twice."
            )
        elif request_id:
            safe = "Retrying with the same x-request-id is safe: an id already accepted is not stored twice."
        else:
            safe = "A retry may store it twice; send an x-request-id header to make retries safe."
        return f"Error: the store stopped answering while committing this request: it may or may not be queued. {safe}"
    if method == "GET":
        return f"Error: the store is unavailable; retry after {retry_after} seconds."
    return f"Error: the store is unavailable; nothing was queued. Retry after {retry_after} seconds."


def gdpr_message(exc: StoreUnavailable, method: str, retry_after: int) -> str:
    """The GDPR API's 503: what happened to a registration (POST), a cancellation (DELETE) or a look-up."""
    if method == "GET":  # a look-up's commit only counts it against the rate limit
        return f"Error: the store is unavailable; retry after {retry_after} seconds."
    what = "cancelled" if method == "DELETE" else "registered"
    if isinstance(exc, CommitUnknown):
        return (
            f"Error: the store stopped answering while committing this request: it may or may not be {what}. "
            "Ask for the request's status (GET) before sending it again."
        )
    return f"Error: the store is unavailable; nothing was {what}. Retry after {retry_after} seconds."


def moengage_message(exc: StoreUnavailable, retry_after: int) -> str:
    if isinstance(exc, CommitUnknown):
        return (
            "The store stopped answering while saving this request: it may or may not have been stored, "
            "and a retry may store it twice."
        )
    return f"The store is unavailable; nothing was stored. Retry after {retry_after} seconds."


async def store_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreUnavailable)
    _log(exc)
    retry_after = request.app.state.services.settings.retry_after if hasattr(request.app.state, "services") else 5
    headers = {"Retry-After": str(retry_after)}
    if moengage.owns(request.url.path):
        return moe.fail(503, MOENGAGE_TYPE, moengage_message(exc, retry_after), moe.new_request_id(), None, headers)
    fmt = "xml" if request.query_params.get("format", "").lower() == "xml" else "json"
    message = webengage_message(exc, request.method, request.headers.get("x-request-id"), retry_after, request.url.path)
    if gdpr.owns(request.url.path):  # the GDPR API answers flat, and only JSON
        return gdpr.error(503, gdpr_message(exc, request.method, retry_after), headers=headers)
    return we.error(503, message, fmt, headers)
