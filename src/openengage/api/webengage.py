"""The WebEngage REST API dialect: `/v1/accounts/{licenseCode}/users|events|bulk-users|bulk-events`.

Order of checks: format, license code (404), Bearer key and permissions (401), Content-Type (415),
body size (413), structure (400), then the ingest log decides rate limit (429) and x-request-id
de-duplication atomically with the durable append. Only a committed append answers 201 "queued".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from openengage.accounts import Account, can_authenticate_rest
from openengage.api import webengage_responses as we
from openengage.api.auth import bearer_token
from openengage.api.body import TooLarge, header, is_json, read_body
from openengage.api.guard import NUL_TEXT
from openengage.api.services import Services, services
from openengage.api.transaction_schema import uuid7
from openengage.api.webengage_schema import (
    BulkEvents,
    BulkUsers,
    Event,
    Invalid,
    User,
    checked,
    decode_body,
    fast_events,
    parse_bulk_events,
    parse_bulk_users,
    parse_event,
    parse_user,
)
from openengage.operations import BEARER, ApiRoute, Operation, Param
from openengage.records import RawEventRecord, Record, encode_records, subjects_of
from openengage.rules.dates import now_ms
from openengage.rules.windows import window_of
from openengage.store.base import Outcome, Submission, Trace

MAX_REQUEST_ID = 200


class Refused(Exception):
    """Answer with this response instead (raised by the shared checks). A refusal after the account is
    known says so (`account_id`, `status`, `message`): the debugger lists it (api/refusals.py)."""

    def __init__(self, response: Response, account_id: int | None = None, message: str = "") -> None:
        self.response = response
        self.account_id = account_id
        self.message = message


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

    def unauthorized(message: str) -> Refused:
        return Refused(error(401, message, fmt), account.id, message)

    token = bearer_token(header(request, b"authorization"))
    if token is None:
        raise unauthorized("Error: Unauthorized: send the header Authorization: Bearer <YOUR_API_KEY>.")
    principal = await svc.auth.principal(token)
    if principal is None or principal.account_id != account.id:
        raise unauthorized("Error: Unauthorized: the API key is invalid or has been revoked.")
    if not can_authenticate_rest(principal.permissions):
        raise unauthorized(
            "Error: Unauthorized: the key's team member needs the Account Management and Update Data permissions."
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
    return [checked(decode_body(body), User, parse_user)]


def bulk_users(body: bytes) -> list[Record]:
    return list(checked(decode_body(body), BulkUsers, parse_bulk_users))


def events(body: bytes) -> Sequence[Record | RawEventRecord]:
    # The fast path admits a subset of what `Event` admits (tests/unit/test_request_types.py checks).
    return fast_events(body, bulk=False) or [checked(decode_body(body), Event, parse_event)]


def bulk_events(body: bytes) -> Sequence[Record | RawEventRecord]:
    return fast_events(body, bulk=True) or list(checked(decode_body(body), BulkEvents, parse_bulk_events))


def endpoint(bucket: str, parse: Parser, path: str) -> Callable[[Request], Awaitable[Response]]:
    # The ingest hot path: keep per-request work to what each check needs (see bench/).
    async def handle(request: Request) -> Response:
        svc: Services = request.app.state.services
        received = now_ms()
        try:
            fmt = response_format(request)
            account = await authenticate(request, fmt, svc)
        except Refused as refused:
            if refused.account_id is not None and svc.refusals is not None:
                svc.refusals.note(refused.account_id, path, 401, refused.message, None, None)
            return refused.response
        request_id = header(request, b"x-request-id") or None

        def refuse(
            status: int, message: str, out: dict[str, str], body: bytes | None = None, errors: Any = None
        ) -> Response:
            if svc.refusals is not None:  # the debugger's record: off the ack path (api/refusals.py)
                svc.refusals.note(account.id, path, status, message, body, request_id)
            return we.error(status, message, fmt, out, errors)

        if not is_json(header(request, b"content-type")):
            return refuse(415, "Error: Content-Type must be application/json.", known_headers(svc, account, bucket))
        limit_bytes = svc.settings.max_body_bytes
        try:
            body = await read_body(request, limit_bytes)
        except TooLarge:
            message = f"Error: request body exceeds {limit_bytes} bytes."
            return refuse(413, message, known_headers(svc, account, bucket))
        try:
            if request_id is not None and (len(request_id) > MAX_REQUEST_ID or "\x00" in request_id):
                raise Invalid(
                    f"Error: x-request-id can be of maximum {MAX_REQUEST_ID} characters."
                    if len(request_id) > MAX_REQUEST_ID
                    else f"Error: x-request-id contains {NUL_TEXT}."
                )
            records = parse(body)
        except Invalid as exc:
            return refuse(400, exc.message, known_headers(svc, account, bucket), body, exc.errors)
        # Every accepted request has a trace id: the client's, else a UUIDv7 (answered in x-request-id).
        # Only the client's takes part in de-duplication.
        trace = Trace(request_id or uuid7(received), path, received, subjects_of(records))
        payload = encode_records(records)
        sub = Submission(account.id, bucket, 1, account.limit(bucket), payload, len(records), request_id, (), trace)
        outcome = await svc.committer.submit(sub)
        out_headers = outcome_headers(svc, account.id, outcome)
        if outcome.status == "limited":
            message = (
                f"Error: rate limit of {outcome.limit} requests per minute exceeded for {path}; "
                f"retry after {outcome.reset_seconds} seconds."
            )
            return refuse(429, message, out_headers, body)
        if request_id is None:
            out_headers["x-request-id"] = trace.request_id
        return we.queued(fmt, out_headers)

    return handle


# ---------------------------------------------------------------- routes and their documentation

PREFIX = "/v1/accounts/{license_code}"
LICENSE_CODE = Param(
    "license_code", "path", "The account's license code, as issued (`~` included).", example="~2f6a9c1e"
)
FORMAT = Param(
    "format", "query", "The response format: json (the default) or xml, in any letter case.", Literal["json", "xml"]
)
REQUEST_ID = Param(
    "x-request-id",
    "header",
    "Makes retries safe: a repeat of an id this account had accepted in the last 4 hours is answered as the "
    "first was and stores nothing again.",
    Annotated[str, Meta(max_length=MAX_REQUEST_ID)],
)
_USER = {"userId": "johndoe", "firstName": "John", "lastName": "Doe", "birthDate": "1986-08-19T15:45:00-0800",
         "gender": "male", "email": "john@doe.com", "phone": "+551155256325", "company": "Alphabet Inc.",
         "attributes": {"Age": "31", "Twitter username": "@origjohndoe86", "Dollars spent": 461.93}}  # fmt: skip
_EVENT = {"userId": "johndoe", "eventName": "Added to Cart", "eventTime": "2018-09-15T18:29:00-0800",
          "eventData": {"Product ID": 1337, "Price": 39.80, "Quantity": 1, "Currency": "USD"}}  # fmt: skip


def ingest_doc(op_id: str, summary: str, body: Any, example: dict[str, Any], description: str) -> Operation:
    return Operation(
        id=op_id,
        summary=summary,
        tag="WebEngage",
        description=description,
        security=BEARER,
        params=(LICENSE_CODE, FORMAT, REQUEST_ID),
        body=body,
        body_description="JSON (`application/json` or another `application/*+json` type).",
        examples={"vendor": example},
        replies=we.INGEST_REPLIES,
    )


def _route(path: str, bucket: str, parse: Parser, doc: Operation) -> ApiRoute:
    return ApiRoute(f"{PREFIX}{path}", endpoint(bucket, parse, path), methods=["POST"], operations=doc)


routes = [
    _route(
        "/users",
        "users",
        users,
        ingest_doc(
            "webengageTrackUser",
            "Create or update a user",
            User,
            _USER,
            "With both userId and anonymousId, the anonymous profile merges into the known user's.",
        ),
    ),
    _route(
        "/events",
        "events",
        events,
        ingest_doc("webengageTrackEvent", "Track an event", Event, _EVENT, "System events cannot be created."),
    ),
    _route(
        "/bulk-users",
        "bulk",
        bulk_users,
        ingest_doc("webengageBulkUsers", "Create or update 1 to 25 users", BulkUsers, {"users": [_USER]}, ""),
    ),
    _route(
        "/bulk-events",
        "bulk",
        bulk_events,
        ingest_doc("webengageBulkEvents", "Track 1 to 25 events", BulkEvents, {"events": [_EVENT]}, ""),
    ),
]
