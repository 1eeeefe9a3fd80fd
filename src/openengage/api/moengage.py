"""The MoEngage Data API dialect: Track User, Track Event, Track Device, Bulk Import, Merge, Delete, Get User.

Order of checks: app id in the path or `?app_id=` (400; 409 when the two differ), Basic auth (401),
`MOE-APPKEY` when sent (401), Basic-auth user against the app id (409), account and Data API key
(401; 409 when no key is set), Content-Type (400 missing, 415 not JSON), body size (413 over 128 KB),
body and fields (400); then the ingest log decides the rate limit (429) atomically with the durable
append, the same group-commit log the WebEngage dialect writes. Only a committed append answers 200.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openengage.accounts import Account, key_matches
from openengage.api import moengage_errors as err
from openengage.api import moengage_responses as moe
from openengage.api import moengage_schema as schema
from openengage.api.body import TooLarge, header, is_json, read_body
from openengage.api.moengage_attributes import export_user, moengage_id, profile_id_of
from openengage.api.moengage_errors import Invalid
from openengage.api.services import Services, services
from openengage.errors import StoreUnavailable
from openengage.operations import BASIC, ApiRoute, Operation, Param, Reply
from openengage.records import DeleteRecord, Record, encode_records, subjects_of
from openengage.rules.dates import now_ms
from openengage.rules.windows import reset_seconds, window_of
from openengage.store.base import Outcome, Submission, Trace

MAX_REQUEST_ID = 200  # x-request-id, as on the WebEngage dialect
log = logging.getLogger("openengage.moengage")

USERS = "moengage-users"
EVENTS = "moengage-events"


# ---------------------------------------------------------------- authentication


def basic_credentials(header: str | None) -> tuple[str, str]:
    """(app id, Data API key) from `Authorization: Basic base64(app_id:key)`, or the documented 401."""
    if header is None:
        raise err.AUTH_HEADER_MISSING()
    scheme, _, token = header.strip().partition(" ")
    if not scheme:
        raise err.AUTH_HEADER_EMPTY()
    if scheme.lower() != "basic":
        raise err.AUTH_NOT_BASIC()
    if not token.strip():
        raise err.AUTH_HEADER_EMPTY()
    try:
        raw = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise err.AUTH_UNDECODABLE() from None
    user, sep, secret = raw.partition(":")
    if not sep:
        raise err.AUTH_UNDECODABLE()
    if not user:
        raise err.APP_KEY_MISSING()
    if not secret:
        raise err.APP_SECRET_MISSING()
    return user, secret


def app_id_param(request: Request) -> str:
    """The workspace id from the path or `?app_id=`; clients also send both, which must then agree."""
    path = request.path_params.get("app_id")
    query = request.query_params.get("app_id") if request.scope.get("query_string") else None
    if path and query and path != query:
        raise err.APP_ID_MISMATCH()
    app_id = path or query
    if not app_id:
        raise err.APP_ID_REQUIRED()
    return str(app_id)


async def authenticate(request: Request, svc: Services) -> Account:
    app_id = app_id_param(request)
    user, secret = basic_credentials(header(request, b"authorization"))
    header_key = header(request, b"moe-appkey")
    if header_key is not None and header_key.strip() != user:
        raise err.APPKEY_HEADER_MISMATCH()
    if user != app_id:
        raise err.APP_ID_MISMATCH()
    if "\x00" in app_id:  # no app id holds one, and PostgreSQL would refuse the lookup
        raise err.UNKNOWN_APP_ID()
    return check_account(await svc.auth.account_by_app_id(app_id), secret)


def check_account(account: Account | None, secret: str) -> Account:
    """The account of the app id, if `secret` is its Data API key (compared by hash, in constant time)."""
    if account is None:
        raise err.UNKNOWN_APP_ID()
    failure = None
    if account.data_api_key_hash is None:
        failure = err.SECRET_NOT_SET()
    elif not key_matches(secret, account.data_api_key_hash):
        failure = err.SECRET_MISMATCH()
    if failure is not None:
        failure.account_id = account.id  # the debugger lists the refusal (api/refusals.py)
        raise failure
    return account


async def read_json(request: Request) -> dict[str, Any]:
    content_type = header(request, b"content-type")
    if not (content_type or "").strip():
        raise err.CONTENT_TYPE_MISSING()
    if not is_json(content_type):
        raise err.UNSUPPORTED_MEDIA()
    try:
        body = await read_body(request, schema.MAX_BODY_BYTES)
    except TooLarge:
        raise err.TOO_LARGE() from None
    return schema.decode_body(body)


# ---------------------------------------------------------------- rate-limit headers


def limit_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    """`x-ratelimit-reset` is seconds until the one-minute window ends, as the Data API overview says."""
    if limit <= 0:
        return {}
    return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": str(reset)}


def known_headers(svc: Services, account: Account, bucket: str) -> dict[str, str]:
    """Headers for a refused request: it consumed nothing, so report the last count seen."""
    now = now_ms()
    limit = account.limit(bucket)
    seen = svc.remaining.get((account.id, bucket))
    remaining = seen[1] if seen is not None and seen[0] == window_of(now) else limit
    return limit_headers(limit, remaining, reset_seconds(now))


def outcome_headers(svc: Services, account_id: int, outcome: Outcome) -> dict[str, str]:
    if outcome.limit > 0:
        svc.remaining[(account_id, outcome.bucket)] = (window_of(now_ms()), outcome.remaining)
    headers = limit_headers(outcome.limit, outcome.remaining, outcome.reset_seconds)
    if outcome.status == "limited":
        headers["Retry-After"] = str(outcome.reset_seconds)
    return headers


# ---------------------------------------------------------------- ingestion


@dataclasses.dataclass(frozen=True)
class Ingest:
    """What one request appends, and what it costs: (bucket, records) pairs, the first one headlined."""

    records: list[Record]
    costs: tuple[tuple[str, int], ...]
    moengage_id: str | None = None  # Delete by MoEngage ID: resolved to the user before the append


def submission(account: Account, plan: Ingest, trace: Trace | None = None) -> Submission:
    (bucket, cost), *more = plan.costs
    return Submission(
        account.id,
        bucket,
        cost,
        account.limit(bucket),
        encode_records(plan.records),
        len(plan.records),
        None,
        tuple((b, c, account.limit(b)) for b, c in more),
        trace,
    )


def endpoint_of(request: Request) -> str:
    """The Data API endpoint a request came in on, without the app id: `/v1/event`, `/v1/customer/merge`."""
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path)).removesuffix("/{app_id}")


def client_request_id(request: Request) -> str | None:
    """The client's x-request-id, when usable as a trace id (the Data API has no de-duplication by it)."""
    value = header(request, b"x-request-id")
    return value if value and len(value) <= MAX_REQUEST_ID and "\x00" not in value else None


def server_error(request_id: str) -> Response:
    """500 in the vendor's shape. Whatever failed did so before the append or inside it (rolled back)."""
    log.exception("moengage request failed", extra={"action": "server_error", "request_id": request_id})
    failure = err.SERVER_ERROR()
    return moe.fail(failure.status, failure.type, failure.message, request_id)


# Runs after the body is parsed, before the append: may refuse (Invalid) or rewrite what is appended.
Check = Callable[[Services, Account, Ingest], Awaitable[Ingest]]


def ingest_route(
    parse: Callable[[dict[str, Any]], Ingest], bucket: str, check: Check | None = None, **extra: Any
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        # The ingest hot path (see bench/): every check once, one submit.
        received = now_ms()
        client_id = client_request_id(request)
        # The trace id: the client's x-request-id, else the id the response body carries anyway.
        request_id = client_id or moe.new_request_id()
        svc = services(request)
        account: Account | None = None
        headers: dict[str, str] | None = None
        try:
            account = await authenticate(request, svc)
            plan = parse(await read_json(request))
            if check is not None:
                plan = await check(svc, account, plan)
            trace = Trace(request_id, endpoint_of(request), received, subjects_of(plan.records))
            outcome = await svc.committer.submit(submission(account, plan, trace))
            headers = outcome_headers(svc, account.id, outcome)
            if outcome.status == "limited":
                raise err.RATE_LIMITED()
            if client_id is None:
                headers["x-request-id"] = request_id
            return moe.success(request_id, headers, **extra)
        except Invalid as exc:
            if headers is None and account is not None:  # refused before the log: nothing was consumed
                headers = known_headers(svc, account, bucket)
            account_id = account.id if account is not None else exc.account_id
            if account_id is not None and svc.refusals is not None:  # the debugger (api/refusals.py)
                body = getattr(request, "_body", None) if account is not None else None
                svc.refusals.note(account_id, endpoint_of(request), exc.status, exc.message, body, client_id)
            return moe.fail(exc.status, exc.type, exc.message, request_id, exc.attribute, headers)
        except StoreUnavailable:
            raise  # 503 in the vendor's shape (api/unavailable.py)
        except Exception:
            return server_error(request_id)

    return handle


def customer(body: dict[str, Any]) -> Ingest:
    return Ingest([schema.checked(body, schema.MoEngageCustomer, schema.parse_customer)], ((USERS, 1),))


def event(body: dict[str, Any]) -> Ingest:
    records = schema.checked(body, schema.MoEngageEvent, schema.parse_event)
    return Ingest(list(records), ((EVENTS, len(records)),))


def device(body: dict[str, Any]) -> Ingest:
    return Ingest([schema.checked(body, schema.MoEngageDevice, schema.parse_device)], ((USERS, 1),))


def bulk(body: dict[str, Any]) -> Ingest:
    """Charged per record to both buckets; the headers describe the events bucket when events were sent."""
    parsed = schema.checked(body, schema.MoEngageTransition, schema.parse_bulk)
    costs = ((USERS, parsed.users), (EVENTS, parsed.events))
    return Ingest(parsed.records, costs[::-1] if parsed.events else costs)


def merge(body: dict[str, Any]) -> Ingest:
    records = schema.checked(body, schema.MoEngageMerge, schema.parse_merge)
    return Ingest(list(records), ((USERS, len(records)),))


def delete(body: dict[str, Any]) -> Ingest:
    kind, value = schema.checked(body, schema.MoEngageDelete, schema.parse_delete)
    if kind == schema.CUSTOMER_ID:
        return Ingest([DeleteRecord(value)], ((USERS, 1),))
    return Ingest([], ((USERS, 1),), moengage_id=value)


async def user_exists(svc: Services, account: Account, plan: Ingest) -> Ingest:
    """Delete answers the documented 400 for an unknown user, unless accepted records may still create it.
    A MoEngage ID names a stored profile: it is resolved here to the user's customer_id."""
    if plan.moengage_id is not None:
        pid = profile_id_of(plan.moengage_id)
        found = None if pid is None else await svc.store.profile_by_id(account.id, pid)
        if found is None or found.data.user_id is None:
            raise Invalid(f"User doesn't exists with moengage id {plan.moengage_id}", err.NOT_FOUND)
        return Ingest([DeleteRecord(found.data.user_id)], plan.costs)
    for record in plan.records:
        if not isinstance(record, DeleteRecord):
            continue
        if await svc.store.profile(account.id, "u", record.user_id) is not None:
            continue
        if (await svc.store.stats(account.id)).pending == 0:
            raise Invalid(f"User doesn't exists with customer id {record.user_id}", err.NOT_FOUND)
    return plan


# ---------------------------------------------------------------- Get User (a read, not ingestion)


async def export(request: Request) -> Response:
    request_id = moe.new_request_id()
    svc = services(request)
    try:
        account = await authenticate(request, svc)
        query = schema.checked(await read_json(request), schema.MoEngageExport, schema.parse_export)
        store = svc.store
        users: list[dict[str, Any]] = []
        not_found: list[dict[str, str]] = []
        for kind, identifier in query.identifiers:
            if kind == schema.CUSTOMER_ID:
                found = await store.profile(account.id, "u", identifier)
            else:
                pid = profile_id_of(identifier)
                found = None if pid is None else await store.profile_by_id(account.id, pid)
            if found is None:
                not_found.append({"identifier_type": kind, "identifier": identifier})
                continue
            d = found.data
            attributes = export_user(
                d.user_id, d.system, d.attributes, d.first_seen, d.last_seen, query.fields, moengage_id(found.id)
            )
            users.append({"user_attributes": attributes})
        return moe.export(request_id, {"users_not_found": not_found, "users": users})
    except Invalid as exc:
        return moe.fail(exc.status, exc.type, exc.message, request_id, exc.attribute)
    except StoreUnavailable:
        raise  # 503 in the vendor's shape (api/unavailable.py)
    except Exception:
        return server_error(request_id)


# ---------------------------------------------------------------- app-wide errors under the Data API's paths

ROOTS = frozenset({"customer", "customers", "event", "device", "transition"})


def owns(path: str) -> bool:
    """Whether a URL path is under a Data API root (`/v1/customer`, `/v1/event`, …): its errors speak MoEngage."""
    parts = path.split("/", 3)
    return len(parts) >= 3 and parts[0] == "" and parts[1] == "v1" and parts[2] in ROOTS


def app_error(status: int, method: str, headers: Mapping[str, str] | None = None) -> Response:
    """The app-wide 404, 405 and 500 answers for a Data API path, in the vendor's failure shape."""
    request_id = moe.new_request_id()
    if status == 404:
        failure = err.ROUTE_NOT_FOUND()
    elif status == 405:
        failure = Invalid(
            f"Method {method} is not allowed here; the Data API takes POST", err.METHOD_NOT_ALLOWED, status=405
        )
    else:
        failure = err.SERVER_ERROR()
    return moe.fail(failure.status, failure.type, failure.message, request_id, None, headers)


# ---------------------------------------------------------------- routes and their documentation

APP_ID = "The workspace (app) id: the Basic-auth user. When both the path and `?app_id=` name it, they must agree."
X_REQUEST_ID = Param(
    "x-request-id",
    "header",
    f"Optional: the id this request's trace is kept under and the body's request_id (one over {MAX_REQUEST_ID} "
    "characters or holding NUL is ignored: the body's own id is used). No de-duplication by it.",
)
MOE_APPKEY = Param("MOE-APPKEY", "header", "Optional; when sent, it must equal the app id.")
_ACCEPTED = Reply(200, "Accepted: durably committed.", moe.MoEngageAccepted, headers=(*moe.RATE_LIMIT, moe.REQUEST_ID))
_CUSTOMER = {
    "type": "customer",
    "customer_id": "john@example.com",
    "attributes": {"name": "JohnDoe", "first_name": "John", "platforms": [{"platform": "ANDROID", "active": "true"}]},
}
_EVENT = {
    "type": "event",
    "customer_id": "john@example.com",
    "actions": [
        {
            "action": "Flight Booked",
            "attributes": {"price": 3999, "premium_seat": True},
            "platform": "iOS",
            "app_version": "1.2.3",
            "current_time": 1433837969,
            "user_timezone_offset": 19800,
        }
    ],
}
_DEVICE = {
    "type": "device",
    "customer_id": "john@example.com",
    "device_id": "96bd03b6-defc-4203-83d3-dc1c73080232",
    "attributes": {"platform": "iOS", "push_id": "c2d7bff1e9d0", "model": "iPhone"},
}


def data_doc(
    op_id: str, summary: str, body: Any, example: dict[str, Any], *, in_path: bool, success: Reply = _ACCEPTED
) -> Operation:
    """A Data API operation, with the app id in the path or (`in_path=False`) in the query."""
    app_id = Param("app_id", "path", APP_ID) if in_path else Param("app_id", "query", APP_ID, required=True)
    return Operation(
        id=op_id if in_path else f"{op_id}ByQuery",
        summary=summary,
        tag="MoEngage",
        security=BASIC,
        params=(app_id, MOE_APPKEY) if success is _EXPORTED else (app_id, MOE_APPKEY, X_REQUEST_ID),
        body=body,
        examples={"vendor": example},
        replies=moe.replies(success, limited=success is not _EXPORTED),
    )


def _both(path: str, handler: Callable[[Request], Awaitable[Response]], *doc: Any) -> list[Route]:
    """`/v1/x/{app_id}` and `/v1/x?app_id=`."""
    return [
        ApiRoute(f"{path}/{{app_id}}", handler, methods=["POST"], operations=data_doc(*doc, in_path=True)),
        ApiRoute(path, handler, methods=["POST"], operations=data_doc(*doc, in_path=False)),
    ]


_MERGED = Reply(200, "Accepted: durably committed.", moe.MoEngageMerged, headers=(*moe.RATE_LIMIT, moe.REQUEST_ID))
_EXPORTED = Reply(200, "The users found, and the ids not found.", moe.MoEngageExported)

# Routes are matched in order: the busiest first. Merge and delete must come before
# `/v1/customer/{app_id}`, which would otherwise match them.
routes = [
    *_both(
        "/v1/event", ingest_route(event, EVENTS), "moengageTrackEvent", "Track events", schema.MoEngageEvent, _EVENT
    ),
    *_both(
        "/v1/transition",
        ingest_route(bulk, USERS),
        "moengageBulkImport",
        "Bulk import users, events and devices",
        schema.MoEngageTransition,
        {"type": "transition", "elements": [_CUSTOMER, _EVENT]},
    ),
    ApiRoute(
        "/v1/customer/merge",
        ingest_route(merge, USERS, operation="created"),
        methods=["POST"],
        operations=data_doc(
            "moengageMergeUsers",
            "Merge users",
            schema.MoEngageMerge,
            {"merge_data": [{"merged_user": "4eb021e9", "retained_user": "12345"}]},
            in_path=False,
            success=_MERGED,
        ),
    ),
    ApiRoute(
        "/v1/customer/delete",
        ingest_route(delete, USERS, user_exists),
        methods=["POST"],
        operations=data_doc(
            "moengageDeleteUser",
            "Delete a user",
            schema.MoEngageDelete,
            {"identity_type": "customer_id", "identity_value": "john@example.com"},
            in_path=False,
        ),
    ),
    *_both(
        "/v1/customer",
        ingest_route(customer, USERS),
        "moengageTrackUser",
        "Create or update a user",
        schema.MoEngageCustomer,
        _CUSTOMER,
    ),
    *_both(
        "/v1/device",
        ingest_route(device, USERS),
        "moengageTrackDevice",
        "Add or update a device",
        schema.MoEngageDevice,
        _DEVICE,
    ),
    ApiRoute(
        "/v1/customers/export",
        export,
        methods=["POST"],
        operations=data_doc(
            "moengageGetUsers",
            "Get users (export)",
            schema.MoEngageExport,
            {"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": "john@example.com"}]}},
            in_path=False,
            success=_EXPORTED,
        ),
    ),
]
