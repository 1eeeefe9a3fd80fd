"""The WebEngage REST API dialect: `/v1/accounts/{licenseCode}/users|events|bulk-users|bulk-events`.

Order of checks: format, license code (404), Bearer key and permissions (401), Content-Type (415),
body size (413), structure (400), then the ingest log decides rate limit (429) and x-request-id
de-duplication atomically with the durable append. Only a committed append answers 201 "queued".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openengage.accounts import Account, can_authenticate_rest
from openengage.api import webengage_responses as we
from openengage.api.auth import bearer_token
from openengage.api.body import TooLarge, is_json, read_body
from openengage.api.guard import NUL_TEXT
from openengage.api.services import Services, services
from openengage.api.webengage_schema import (
    Invalid,
    decode_body,
    fast_events,
    parse_bulk,
    parse_event,
    parse_user,
)
from openengage.records import RawEventRecord, Record, encode_records
from openengage.rules.dates import now_ms
from openengage.rules.windows import window_of
from openengage.store.base import Outcome, Submission

MAX_REQUEST_ID = 200


class Refused(Exception):
    """Answer with this response instead (raised by the shared checks)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def response_format(request: Request) -> str:
    if not request.scope["query_string"]:
        return "json"
    fmt = request.query_params.get("format", "json").lower()
    if fmt not in ("json", "xml"):
        raise Refused(we.error(400, f"Error: format must be json or xml, not '{fmt}'."))
    return fmt


ErrorShape = Callable[[int, str, str], Response]


async def authenticate(
    request: Request, fmt: str, svc: Services | None = None, error: ErrorShape = we.error
) -> Account:
    """The account of the license code in the path, if the Bearer key may act on it. Refusals are shaped
    by `error` (the WebEngage container; the GDPR API has its own shape)."""
    svc = svc or services(request)
    license_code = request.path_params["license_code"]
    # A NUL cannot be in any license code, and PostgreSQL would refuse the lookup: not found, unasked.
    account = None if "\x00" in license_code else await svc.auth.account_by_license(license_code)
    if account is None:
        raise Refused(error(404, f"Error: no account with license code '{license_code}'.", fmt))
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise Refused(error(401, "Error: Unauthorized: send the header Authorization: Bearer <YOUR_API_KEY>.", fmt))
    principal = await svc.auth.principal(token)
    if principal is None or principal.account_id != account.id:
        raise Refused(error(401, "Error: Unauthorized: the API key is invalid or has been revoked.", fmt))
    if not can_authenticate_rest(principal.permissions):
        raise Refused(
            error(
                401,
                "Error: Unauthorized: the key's team member needs the Account Management and Update Data permissions.",
                fmt,
            )
        )
    return account


def limit_headers(limit: int, remaining: int) -> dict[str, str]:
    if limit <= 0:
        return {}
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}


def known_headers(svc: Services, account: Account, bucket: str) -> dict[str, str]:
    """Headers for a refused request: it consumed nothing, so report the last count seen."""
    limit = account.limit(bucket)
    seen = svc.remaining.get((account.id, bucket))
    remaining = seen[1] if seen is not None and seen[0] == window_of(now_ms()) else limit
    return limit_headers(limit, remaining)


def outcome_headers(svc: Services, account_id: int, outcome: Outcome) -> dict[str, str]:
    if outcome.limit > 0:
        svc.remaining[(account_id, outcome.bucket)] = (window_of(now_ms()), outcome.remaining)
    headers = limit_headers(outcome.limit, outcome.remaining)
    if outcome.status == "limited":
        headers["Retry-After"] = str(outcome.reset_seconds)
    return headers


Parser = Callable[[bytes], Sequence[Record | RawEventRecord]]


def users(body: bytes) -> list[Record]:
    return [parse_user(decode_body(body))]


def bulk_users(body: bytes) -> list[Record]:
    return parse_bulk(decode_body(body), "users", parse_user)


def events(body: bytes) -> Sequence[Record | RawEventRecord]:
    return fast_events(body, bulk=False) or [parse_event(decode_body(body))]


def bulk_events(body: bytes) -> Sequence[Record | RawEventRecord]:
    return fast_events(body, bulk=True) or parse_bulk(decode_body(body), "events", parse_event)


def endpoint(bucket: str, parse: Parser, path: str) -> Callable[[Request], Awaitable[Response]]:
    # The ingest hot path: keep per-request work to what each check needs (see bench/).
    async def handle(request: Request) -> Response:
        svc: Services = request.app.state.services
        try:
            fmt = response_format(request)
            account = await authenticate(request, fmt, svc)
        except Refused as refused:
            return refused.response
        headers = request.headers
        if not is_json(headers):
            return we.error(
                415, "Error: Content-Type must be application/json.", fmt, known_headers(svc, account, bucket)
            )
        limit_bytes = svc.settings.max_body_bytes
        try:
            body = await read_body(request, limit_bytes)
        except TooLarge:
            message = f"Error: request body exceeds {limit_bytes} bytes."
            return we.error(413, message, fmt, known_headers(svc, account, bucket))
        request_id = headers.get("x-request-id") or None
        try:
            if request_id is not None and (len(request_id) > MAX_REQUEST_ID or "\x00" in request_id):
                raise Invalid(
                    f"Error: x-request-id can be of maximum {MAX_REQUEST_ID} characters."
                    if len(request_id) > MAX_REQUEST_ID
                    else f"Error: x-request-id contains {NUL_TEXT}."
                )
            records = parse(body)
        except Invalid as exc:
            return we.error(400, exc.message, fmt, known_headers(svc, account, bucket), exc.errors)
        outcome = await svc.committer.submit(
            Submission(account.id, bucket, 1, account.limit(bucket), encode_records(records), len(records), request_id)
        )
        out_headers = outcome_headers(svc, account.id, outcome)
        if outcome.status == "limited":
            message = (
                f"Error: rate limit of {outcome.limit} requests per minute exceeded for {path}; "
                f"retry after {outcome.reset_seconds} seconds."
            )
            return we.error(429, message, fmt, out_headers)
        return we.queued(fmt, out_headers)

    return handle


PREFIX = "/v1/accounts/{license_code}"

routes = [
    Route(f"{PREFIX}/users", endpoint("users", users, "/users"), methods=["POST"]),
    Route(f"{PREFIX}/events", endpoint("events", events, "/events"), methods=["POST"]),
    Route(f"{PREFIX}/bulk-users", endpoint("bulk", bulk_users, "/bulk-users"), methods=["POST"]),
    Route(
        f"{PREFIX}/bulk-events",
        endpoint("bulk", bulk_events, "/bulk-events"),
        methods=["POST"],
    ),
]
