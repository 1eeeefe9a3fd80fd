"""WebEngage's GDPR API: `/v1/accounts/{licenseCode}/opengdpr_requests` (POST, GET `/{id}`, DELETE `/{id}`).

The vendor's shapes, which have no `response` wrapper (unlike every other WebEngage API): 201
`{"subject_request_id","subject_request_type","message":"<type> request registered"}`, 200
`{"subject_request_id","subject_request_type","status":"PENDING|PROCESSING|DONE|CANCELLED"}`, 200
`{…,"message":"request cancelled"}`. Errors use the same flat shape: `{"status":"error","message":"Error: …"}`.
Same Bearer key and permissions as the ingest endpoints; every call (reads included) counts against the
account's `gdpr` limit (100 per minute), charged in the call's own transaction: a refused call costs nothing.

- erasure: registered PENDING; runs after `gdpr_pending_days` (processor process, store/gdpr.py);
  cancellable (DELETE) until then;
- restriction / re-enable: the user's new data is dropped (reason `restricted`) / processed again, from
  the 201 on;
- portability: the profile and its newest events (at most PORTABLE_EVENTS, with the cursor of the rest
  for the read API) and the user's transactions (messaging) in the 201.
The fields of the OpenGDPR request format this API does not use (`submitted_time`, `api_version`,
`status_callback_urls`, …) are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from starlette.requests import Request
from starlette.responses import Response

from openengage.accounts import Account, Actor
from openengage.api import shapes
from openengage.api import webengage_responses as we
from openengage.api.auth import bearer_token
from openengage.api.body import TooLarge, header, is_json, read_body
from openengage.api.guard import NUL_TEXT, describe, nul_path
from openengage.api.read import AnyPath  # noqa: F401  (registers the `anypath` convertor)
from openengage.api.services import Services, services
from openengage.api.transactions import TxnMessageDoc
from openengage.api.webengage import LICENSE_CODE, Refused, authenticate, known_headers, outcome_headers
from openengage.api.webengage_schema import Invalid, checked, decode_body
from openengage.errors import Conflict, NotFound
from openengage.operations import BEARER, ApiRoute, Header, Operation, Param, Reply
from openengage.rules import gdpr
from openengage.rules.dates import now_ms
from openengage.store.base import Charge, GdprRequest, Limited, Transaction

BUCKET = "gdpr"
MAX_REQUEST_ID = 200
MAX_USER_ID = 100
PORTABLE_EVENTS = 10_000  # events embedded in a portability answer; the rest through the read API
PORTABLE_TRANSACTIONS = 10_000  # the newest transactions (the outbox keeps them outbox_retention_days)
_PAGE = 1000
_encode = msgspec.json.encode


def reply(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers, media_type="application/json")


def error(status: int, message: str, fmt: str = "json", headers: Mapping[str, str] | None = None) -> Response:
    """The GDPR API's error: flat like its other answers (no `response` wrapper). Always JSON."""
    return reply(status, {"status": "error", "message": message}, headers)


# ---------------------------------------------------------------- the request body


def _text(obj: dict[str, Any], field: str, most: int) -> str:
    value = obj.get(field)
    if value is None or value == "":
        raise Invalid(f"Error: {field} is required.")
    if not isinstance(value, str):
        raise Invalid(f"Error: {field} must be a string.")
    if not value.strip():
        raise Invalid(f"Error: {field} cannot be blank.")
    if len(value) > most:
        raise Invalid(f"Error: {field} can be of maximum {most} characters (got {len(value)}).")
    return value


def parse_request(obj: dict[str, Any]) -> tuple[str, str, str]:
    """(subject_request_id, subject_request_type, user id) of a POST body, or Invalid."""
    found = nul_path(obj)
    if found is not None:
        raise Invalid(f"Error: {describe(*found)} contains {NUL_TEXT}.")
    request_id = _text(obj, "subject_request_id", MAX_REQUEST_ID)
    kind = obj.get("subject_request_type")
    if kind not in gdpr.TYPES:
        shown = msgspec.json.encode(kind).decode() if kind is not None else "missing"
        raise Invalid(f"Error: subject_request_type must be one of {', '.join(gdpr.TYPES)} (got {shown}).")
    identities = obj.get("subject_identities")
    if not isinstance(identities, list) or len(identities) != 1:
        raise Invalid("Error: subject_identities must hold exactly one identity: a known user's id (cuid).")
    identity = identities[0]
    if not isinstance(identity, dict):
        raise Invalid("Error: subject_identities[0] must be an object with identity_type and identity_value.")
    if identity.get("identity_type") != gdpr.IDENTITY_TYPE:
        raise Invalid("Error: subject_identities[0].identity_type must be 'cuid' (a known user's id).")
    user_id = _text(identity, "identity_value", MAX_USER_ID)
    return request_id, str(kind), user_id


_ID = Annotated[str, msgspec.Meta(description="Not blank.", pattern=r"\S")]


class GdprIdentity(msgspec.Struct, kw_only=True):
    """The subject: a known user's id (`cuid`)."""

    identity_type: Literal["cuid"]
    identity_value: Annotated[_ID, msgspec.Meta(max_length=MAX_USER_ID)]


class GdprRequestIn(msgspec.Struct, kw_only=True):
    """An OpenGDPR request. Its other fields (`submitted_time`, `api_version`, ...) are accepted and ignored."""

    subject_request_id: Annotated[_ID, msgspec.Meta(max_length=MAX_REQUEST_ID, description="Unique per account.")]
    subject_request_type: Literal["erasure", "restriction", "re-enable", "portability"]  # gdpr.TYPES
    subject_identities: Annotated[list[GdprIdentity], msgspec.Meta(min_length=1, max_length=1)]


# ---------------------------------------------------------------- helpers


async def _caller(request: Request, svc: Services) -> tuple[Account, Actor]:
    account = await authenticate(request, "json", svc, error)
    principal = await svc.auth.principal(bearer_token(header(request, b"authorization")) or "")
    address = request.client.host if request.client else "unknown"
    return account, Actor.for_member(principal.email if principal else "api", address)


def _charge(account: Account) -> Charge:
    return Charge(BUCKET, account.limit(BUCKET))


def _limited(svc: Services, account: Account, exc: Limited) -> Response:
    headers = outcome_headers(svc, account.id, exc.outcome)
    message = (
        f"Error: rate limit of {exc.outcome.limit} GDPR requests per minute exceeded; "
        f"retry after {exc.outcome.reset_seconds} seconds."
    )
    return error(429, message, headers=headers)


def _summary(req: GdprRequest) -> dict[str, Any]:
    return {"subject_request_id": req.request_id, "subject_request_type": req.type}


def portable_transaction(t: Transaction) -> dict[str, Any]:
    """A transaction in a portability answer: the status document's fields, its messages as `campaigns`."""
    doc = shapes.transaction_doc(t)
    del doc["userId"]
    doc["campaigns"] = doc.pop("messages")
    return doc


async def _portable(svc: Services, account: Account, user_id: str) -> dict[str, Any]:
    """The profile and its newest events, at most PORTABLE_EVENTS (`next` continues them in the read API),
    and the user's newest transactions (messaging), at most PORTABLE_TRANSACTIONS."""
    found = await svc.store.user_transactions(account.id, user_id, PORTABLE_TRANSACTIONS)
    transactions = [portable_transaction(t) for t in found]
    profile = await svc.store.profile(account.id, "u", user_id)
    if profile is None:  # erased or merged away between the registration and this read
        return {"profile": None, "events": [], "next": None, "transactions": transactions}
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(events) < PORTABLE_EVENTS:
        page = await svc.store.events(account.id, profile.id, min(_PAGE, PORTABLE_EVENTS - len(events)), cursor)
        events += [shapes.event_doc(e) for e in page.items]
        cursor = page.next
        if cursor is None:
            break
    return {"profile": shapes.profile_doc(profile), "events": events, "next": cursor, "transactions": transactions}


# ---------------------------------------------------------------- routes


async def register(request: Request) -> Response:
    svc = services(request)
    try:
        account, actor = await _caller(request, svc)
    except Refused as refused:
        return refused.response
    if not is_json(header(request, b"content-type")):
        return error(415, "Error: Content-Type must be application/json.", headers=known_headers(svc, account, BUCKET))
    try:
        body = await read_body(request, svc.settings.max_body_bytes)
    except TooLarge:
        message = f"Error: request body exceeds {svc.settings.max_body_bytes} bytes."
        return error(413, message, headers=known_headers(svc, account, BUCKET))
    try:
        request_id, kind, user_id = checked(decode_body(body), GdprRequestIn, parse_request)
    except Invalid as exc:
        return error(400, exc.message, headers=known_headers(svc, account, BUCKET))
    now = now_ms()
    due = gdpr.due_at(kind, now, svc.settings.gdpr_pending_days)
    try:
        req, outcome = await svc.store.gdpr_register(
            account.id, request_id, kind, user_id, now, due, _charge(account), actor
        )
    except NotFound:
        message = f"Error: no user with id '{user_id}' in this account; a GDPR request needs a known user."
        return error(400, message, headers=known_headers(svc, account, BUCKET))
    except Conflict:
        message = f"Error: subject_request_id '{request_id}' is not unique: this account already has a request with it."
        return error(400, message, headers=known_headers(svc, account, BUCKET))
    except Limited as exc:
        return _limited(svc, account, exc)
    doc = _summary(req) | {"message": gdpr.registered_message(kind)}
    if kind == gdpr.PORTABILITY:
        doc |= await _portable(svc, account, user_id)
    return reply(201, doc, outcome_headers(svc, account.id, outcome))


async def one(request: Request) -> Response:
    svc = services(request)
    try:
        account, actor = await _caller(request, svc)
    except Refused as refused:
        return refused.response
    request_id = request.path_params["request_id"]
    headers = known_headers(svc, account, BUCKET)
    if "\x00" in request_id or not request_id or len(request_id) > MAX_REQUEST_ID:
        return error(404, f"Error: no GDPR request '{request_id}' in this account.", headers=headers)
    now = now_ms()
    try:
        if request.method == "DELETE":
            req, outcome = await svc.store.gdpr_cancel(account.id, request_id, now, _charge(account), actor)
            doc = _summary(req) | {"message": "request cancelled"}
        else:
            req, outcome = await svc.store.gdpr_request(account.id, request_id, _charge(account))
            doc = _summary(req) | {"status": gdpr.public_status(req.status, req.due_at, now)}
    except NotFound:
        return error(404, f"Error: no GDPR request '{request_id}' in this account.", headers=headers)
    except Conflict as exc:
        return error(400, f"Error: {exc}.", headers=headers)
    except Limited as exc:
        return _limited(svc, account, exc)
    return reply(200, doc, outcome_headers(svc, account.id, outcome))


# ---------------------------------------------------------------- routes and their documentation


class GdprError(msgspec.Struct):
    """A refusal (flat, like the GDPR API's other answers)."""

    status: Literal["error"]
    message: str


class PortableTransaction(msgspec.Struct, kw_only=True):
    """One transaction of the user (messaging), as `GET .../transactions/{txnId}` shows it."""

    txnId: str
    mode: str
    status: Annotated[str, msgspec.Meta(description="sent, queued, failed or expired.")]
    receivedAt: str
    expiresAt: str
    campaigns: list[TxnMessageDoc]  # the status document's `messages`


class GdprRegistered(msgspec.Struct, kw_only=True):
    """Registered; a portability request carries the profile, its newest events and its transactions."""

    subject_request_id: str
    subject_request_type: str
    message: str
    profile: shapes.ProfileDoc | UnsetType | None = UNSET
    events: list[shapes.EventDoc] | UnsetType = UNSET
    next: str | UnsetType | None = UNSET
    transactions: list[PortableTransaction] | UnsetType = UNSET


class GdprStatus(msgspec.Struct, kw_only=True):
    """A request and where it is."""

    subject_request_id: str
    subject_request_type: str
    status: Literal["PENDING", "PROCESSING", "DONE", "CANCELLED"]


class GdprCancelled(msgspec.Struct, kw_only=True):
    """Cancelled."""

    subject_request_id: str
    subject_request_type: str
    message: str


_RATE = (
    Header("X-RateLimit-Limit", "GDPR calls per minute the account may make (absent: unlimited).", int),
    Header("X-RateLimit-Remaining", "Calls left in the current minute.", int),
)
_LIMITED = (
    *(Header(h.name, h.description, int, required=True) for h in _RATE),
    Header("Retry-After", "Seconds until the next minute starts.", int, required=True),
)


def _replies(success: Reply, *more: Reply) -> tuple[Reply, ...]:
    return (
        success,
        *more,
        Reply(401, "The Bearer key is missing, wrong or revoked, or lacks the permissions.", GdprError),
        Reply(429, "Over the account's GDPR limit.", GdprError, headers=_LIMITED),
        Reply(500, "An unexpected error; nothing was changed.", GdprError),
        Reply(
            503,
            "The store is unavailable; nothing was registered or cancelled (or, if it failed while committing, "
            "the message says so).",
            GdprError,
            headers=we.RETRY_AFTER,
        ),
    )


def owns(path: str) -> bool:
    """Whether a URL path is under the GDPR API: its app-wide errors (500, 503) are flat too."""
    parts = path.split("/", 5)
    return len(parts) >= 5 and parts[1:3] == ["v1", "accounts"] and parts[4] == "opengdpr_requests"


_REQUEST_ID = Param("request_id", "path", "The subject_request_id (URL-encoded).", example="gdpr-1")
PATH = "/v1/accounts/{license_code}/opengdpr_requests"

routes = [
    ApiRoute(
        PATH,
        register,
        methods=["POST"],
        operations=Operation(
            id="gdprRegister",
            summary="Register a GDPR request",
            tag="WebEngage",
            description="Erasure (after a pending period, cancellable until then), restriction, re-enable, "
            "portability (the profile, its events and its transactions in the answer). docs/privacy.md.",
            security=BEARER,
            params=(LICENSE_CODE,),
            body=GdprRequestIn,
            examples={
                "erasure": {
                    "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
                    "subject_request_type": "erasure",
                    "subject_identities": [{"identity_type": "cuid", "identity_value": "johndoe"}],
                }
            },
            replies=_replies(
                Reply(201, "Registered.", GdprRegistered, headers=_RATE),
                Reply(
                    400, "Bad input, an unknown user, or a subject_request_id used before.", GdprError, headers=_RATE
                ),
                Reply(404, "No account has this license code.", GdprError),
                Reply(413, "The body is over the size limit.", GdprError, headers=_RATE),
                Reply(415, "The Content-Type is not JSON.", GdprError, headers=_RATE),
            ),
        ),
    ),
    ApiRoute(
        f"{PATH}/{{request_id:anypath}}",
        one,
        methods=["GET", "DELETE"],
        operations=(
            Operation(
                id="gdprStatus",
                summary="A GDPR request's status",
                tag="WebEngage",
                security=BEARER,
                params=(LICENSE_CODE, _REQUEST_ID),
                method="GET",
                replies=_replies(
                    Reply(200, "Found.", GdprStatus, headers=_RATE),
                    Reply(404, "No account has this license code, or no such request.", GdprError, headers=_RATE),
                ),
            ),
            Operation(
                id="gdprCancel",
                summary="Cancel a pending erasure",
                tag="WebEngage",
                security=BEARER,
                params=(LICENSE_CODE, _REQUEST_ID),
                method="DELETE",
                replies=_replies(
                    Reply(200, "Cancelled.", GdprCancelled, headers=_RATE),
                    Reply(400, "The request cannot be cancelled any more.", GdprError, headers=_RATE),
                    Reply(404, "No account has this license code, or no such request.", GdprError, headers=_RATE),
                ),
            ),
        ),
    ),
]
