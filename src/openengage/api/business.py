"""WebEngage Business Events: definitions with typed attributes, saved events, and their listings.

- `POST /v2/accounts/{lc}/business/events/definition` `{"eventName","attributes":[{"attributeName",
  "dataType"}],"eventCategory":"BUSINESS"}`: 201 with the definition when it is new; 200 when it names an
  existing definition and keeps every attribute with its type (new attributes are added); 409 when it
  would change a type or drop an attribute. Limit `business-definitions`, 1 per minute.
- `POST /v2/accounts/{lc}/business/save-event` `{"eventName","eventTime"?,"eventData":{…}}`: validated
  against the definition (404 for an event no definition names, 400 naming the attribute for an unknown
  attribute or a value of the wrong type), stored, 201 once committed. Limit `business-events`, 500 per
  minute.
- `GET /v2/accounts/{lc}/business/events` (definitions), `…/business/events/{eventName}` (one), and
  `…/business/events/{eventName}/events?limit=&cursor=` (its saved events, newest first).
Same Bearer key as the ingest endpoints, WebEngage's response container (JSON, or XML with
`?format=xml`). The vendor documents no response bodies for these calls; the choices are in
docs/business-events.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import unquote

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from openengage.accounts import Account
from openengage.api import webengage_responses as we
from openengage.api.body import TooLarge, header, is_json, read_body
from openengage.api.guard import NUL_TEXT, describe, nul_path
from openengage.api.read import CURSOR, LIMIT, READ_REPLIES, listing, page_args, read_route
from openengage.api.services import Services, services
from openengage.api.webengage import (
    FORMAT,
    LICENSE_CODE,
    Refused,
    authenticate,
    known_headers,
    outcome_headers,
    response_format,
)
from openengage.api.webengage_schema import EVENT_TIME, Invalid, _event_time, checked, decode_body
from openengage.errors import Conflict, NotFound
from openengage.operations import BEARER, ApiRoute, Operation, Param, Reply, anycase
from openengage.rules import business
from openengage.rules.dates import format_ms, now_ms
from openengage.store.base import BusinessDefinition, BusinessEvent, Charge, Limited, Outcome

DEFINITIONS = "business-definitions"
EVENTS = "business-events"
_DEFINITION_FIELDS = ("eventName", "attributes", "eventCategory")
_ATTRIBUTE_FIELDS = ("attributeName", "dataType")
_EVENT_FIELDS = ("eventName", "eventTime", "eventData")


# ---------------------------------------------------------------- documents


def definition_doc(d: BusinessDefinition, saved: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventName": d.name,
        "eventCategory": d.category,
        "attributes": [{"attributeName": name, "dataType": data_type} for name, data_type in d.attributes],
        "createdAt": format_ms(d.created_at),
        "updatedAt": format_ms(d.updated_at),
    }
    if saved:
        doc["savedEvents"] = d.saved
    return doc


def event_doc(e: BusinessEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "eventName": e.name,
        "eventTime": e.time_text if e.time_text is not None else format_ms(e.time_ms),
        "eventData": e.data,
        "receivedAt": format_ms(e.received_at),
    }


# ---------------------------------------------------------------- request bodies, as the types that admit them

_NAME = Annotated[
    str,
    msgspec.Meta(
        description=f"1 to {business.MAX_NAME_LENGTH} characters, not blank, not starting with `we_`.",
        max_length=business.MAX_NAME_LENGTH,
        pattern=r"^(?!we_)(?=[\s\S]*\S)",
    ),
]


class BusinessAttributeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A typed attribute (at most 25 of each type)."""

    attributeName: _NAME
    dataType: Annotated[str, msgspec.Meta(pattern=f"^({anycase(*business.DATA_TYPES)})$")]


class BusinessDefinitionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A business event's definition; attribute names are unique."""

    eventName: _NAME
    attributes: list[BusinessAttributeIn] | None = None
    eventCategory: Annotated[str, msgspec.Meta(pattern=f"^{anycase(business.CATEGORY)}$")] = business.CATEGORY


class BusinessEventIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A business event: its data is checked against the definition (every key an attribute, of its type)."""

    eventName: Annotated[str, msgspec.Meta(min_length=1)]
    eventTime: EVENT_TIME = None
    eventData: dict[str, Any] | None = None


# ---------------------------------------------------------------- request bodies (pure)


def _storable(obj: dict[str, Any]) -> None:
    found = nul_path(obj)
    if found is not None:
        raise Invalid(f"Error: {describe(*found)} contains {NUL_TEXT}.")


def _unknown(obj: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in obj:
        if key not in known:
            raise Invalid(f"Error: unknown field '{key}' in {where}; the fields are {', '.join(known)}.")


def _name(value: Any, field: str) -> str:
    if value is None or value == "":
        raise Invalid(f"Error: {field} is required.")
    if not isinstance(value, str):
        raise Invalid(f"Error: {field} must be a string, not {business.kind_of(value)}.")
    problem = business.name_problem(value)
    if problem is not None:
        raise Invalid(f"Error: {field} '{value}' {problem}.")
    return value


def parse_definition(obj: dict[str, Any]) -> BusinessDefinition:
    _storable(obj)
    _unknown(obj, _DEFINITION_FIELDS, "the definition")
    name = _name(obj.get("eventName"), "eventName")
    category = obj.get("eventCategory", business.CATEGORY)
    if not isinstance(category, str) or category.upper() != business.CATEGORY:
        raise Invalid(f"Error: eventCategory must be '{business.CATEGORY}'.")
    raw = obj.get("attributes", [])
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise Invalid(f"Error: attributes must be an array, not {business.kind_of(raw)}.")
    attributes: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"attributes[{index}]"
        if not isinstance(item, dict):
            raise Invalid(f"Error: {where} must be an object with attributeName and dataType.")
        _unknown(item, _ATTRIBUTE_FIELDS, where)
        attribute = _name(item.get("attributeName"), f"{where}.attributeName")
        data_type = item.get("dataType")
        if not isinstance(data_type, str) or data_type.lower() not in business.DATA_TYPES:
            raise Invalid(f"Error: {where}.dataType must be one of {', '.join(business.DATA_TYPES)}.")
        if attribute in seen:
            raise Invalid(f"Error: attribute '{attribute}' is defined twice.")
        seen.add(attribute)
        attributes.append((attribute, data_type.lower()))
    problem = business.per_type_problem(attributes)
    if problem is not None:
        raise Invalid(f"Error: {problem}.")
    return BusinessDefinition(name, business.CATEGORY, attributes, 0, 0)


def parse_event(obj: dict[str, Any]) -> tuple[str, int | None, str | None, dict[str, Any]]:
    """(event name, time ms, time as sent, event data): the structure only; `check_event` types the data."""
    _storable(obj)
    _unknown(obj, _EVENT_FIELDS, "the event")
    name = obj.get("eventName")
    if name is None or name == "":
        raise Invalid("Error: eventName is required.")
    if not isinstance(name, str):
        raise Invalid(f"Error: eventName must be a string, not {business.kind_of(name)}.")
    time_ms, time_text = _event_time(obj.get("eventTime"))
    data = obj.get("eventData", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid(f"Error: eventData must be a JSON object, not {business.kind_of(data)}.")
    return name, time_ms, time_text, data


def check_event(definition: BusinessDefinition, data: dict[str, Any]) -> None:
    """Every key of eventData a defined attribute, every value of its type (400 naming the attribute)."""
    types = dict(definition.attributes)
    for key, value in data.items():
        data_type = types.get(key)
        if data_type is None:
            defined = ", ".join(types) or "none"
            raise Invalid(
                f"Error: eventData.{key} is not an attribute of business event '{definition.name}' "
                f"(defined: {defined})."
            )
        problem = business.value_problem(data_type, value)
        if problem is not None:
            raise Invalid(f"Error: eventData.{key} ({data_type}) {problem}.")


# ---------------------------------------------------------------- POST routes


Handler = Callable[[Request, Services, Account, str, dict[str, Any]], Awaitable[tuple[Response, Outcome]]]


def write_route(bucket: str, handle: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Format, auth (404/401), Content-Type (415), size (413), JSON (400), then the handler; a refusal
    costs nothing and carries the limit headers last seen."""

    async def route(request: Request) -> Response:
        svc = services(request)
        try:
            fmt = response_format(request)
            account = await authenticate(request, fmt, svc)
        except Refused as refused:
            return refused.response
        headers = known_headers(svc, account, bucket)
        if not is_json(header(request, b"content-type")):
            return we.error(415, "Error: Content-Type must be application/json.", fmt, headers)
        try:
            body = await read_body(request, svc.settings.max_body_bytes)
        except TooLarge:
            return we.error(413, f"Error: request body exceeds {svc.settings.max_body_bytes} bytes.", fmt, headers)
        try:
            response, outcome = await handle(request, svc, account, fmt, decode_body(body))
        except Invalid as exc:
            return we.error(400, exc.message, fmt, headers)
        except NotFound as exc:
            return we.error(
                404,
                f"Error: {exc}; define it first with POST /v2/accounts/{{lc}}/business/events/definition.",
                fmt,
                headers,
            )
        except Conflict as exc:
            return we.error(409, f"Error: {exc}.", fmt, headers)
        except Limited as exc:
            out = outcome_headers(svc, account.id, exc.outcome)
            what = "business event definitions" if bucket == DEFINITIONS else "business events"
            message = (
                f"Error: rate limit of {exc.outcome.limit} {what} per minute exceeded; "
                f"retry after {exc.outcome.reset_seconds} seconds."
            )
            return we.error(429, message, fmt, out)
        response.headers.update(outcome_headers(svc, account.id, outcome))
        return response

    return route


def _created(status: int, message: str, data: Mapping[str, Any], fmt: str) -> Response:
    return we.container({"data": data, "message": message, "status": "success"}, status, fmt)


async def define(
    request: Request, svc: Services, account: Account, fmt: str, body: dict[str, Any]
) -> tuple[Response, Outcome]:
    definition = checked(body, BusinessDefinitionIn, parse_definition)
    charge = Charge(DEFINITIONS, account.limit(DEFINITIONS))
    stored, created, outcome = await svc.store.define_business_event(account.id, definition, charge)
    if created:
        return _created(201, "business event defined", definition_doc(stored), fmt), outcome
    return _created(200, "business event already defined; new attributes added", definition_doc(stored), fmt), outcome


async def save(
    request: Request, svc: Services, account: Account, fmt: str, body: dict[str, Any]
) -> tuple[Response, Outcome]:
    name, time_ms, time_text, data = checked(body, BusinessEventIn, parse_event)
    definition = await svc.store.business_definition(account.id, name)
    if definition is None:
        raise NotFound(f"no business event '{name}' is defined")
    check_event(definition, data)
    now = now_ms()
    charge = Charge(EVENTS, account.limit(EVENTS))
    event, outcome = await svc.store.save_business_event(
        account.id, name, time_ms if time_ms is not None else now, time_text, data, now, charge
    )
    return _created(201, "business event saved", event_doc(event), fmt), outcome


# ---------------------------------------------------------------- GET routes (the read API's rules)


def _name_path(request: Request) -> tuple[str, bool]:
    """(event name, its saved events?) of `…/business/events/{name}[/events]`, from the raw path: a `/`
    in a name is sent as %2F (see api/read.user_path)."""
    raw = request.scope.get("raw_path")
    if not raw:
        rest = str(request.path_params["rest"])
        return (rest[: -len("/events")], True) if rest.endswith("/events") else (rest, False)
    tail = raw.decode("latin-1").split("/business/events/", 1)[1]
    if tail.endswith("/events") and len(tail) > len("/events"):
        return unquote(tail[: -len("/events")]), True
    return unquote(tail), False


async def definitions(request: Request, account: Account, fmt: str) -> Response:
    found = await services(request).store.business_definitions(account.id)
    return we.success({"definitions": [definition_doc(d, saved=True) for d in found]}, fmt)


async def one(request: Request, account: Account, fmt: str) -> Response:
    name, saved = _name_path(request)
    store = services(request).store
    definition = await store.business_definition(account.id, name)
    if definition is None:
        return we.error(404, f"Error: no business event '{name}' is defined.", fmt)
    if not saved:
        return we.success(definition_doc(definition), fmt)
    limit, cursor = page_args(request, fmt)
    page = await store.business_events(account.id, name, limit, cursor)
    return we.success(listing("events", page, event_doc), fmt)


# ---------------------------------------------------------------- routes and their documentation


class BusinessAttributeDoc(msgspec.Struct):
    attributeName: str
    dataType: Literal["string", "number", "boolean", "date", "array", "map"]  # business.DATA_TYPES


class BusinessDefinitionDoc(msgspec.Struct, kw_only=True):
    """A business event's definition."""

    eventName: str
    eventCategory: Literal["BUSINESS"]
    attributes: list[BusinessAttributeDoc]
    createdAt: str
    updatedAt: str
    savedEvents: Annotated[int, msgspec.Meta(description="In the listing only.")] | msgspec.UnsetType = msgspec.UNSET


class BusinessDefinitionsDoc(msgspec.Struct):
    definitions: list[BusinessDefinitionDoc]


class BusinessEventDoc(msgspec.Struct):
    """A saved business event."""

    id: int
    eventName: str
    eventTime: str
    eventData: dict[str, Any]
    receivedAt: str


class BusinessEventsPage(msgspec.Struct):
    """Saved events, newest first."""

    events: list[BusinessEventDoc]
    next: str | None


_RATE = we.RATE_LIMIT
_WRITE_REPLIES = (
    Reply(400, "Bad input (the message names the field); nothing was stored.", we.WebEngageError, we.BOTH, _RATE),
    *we.AUTH_REPLIES,
    Reply(413, "The body is over the size limit.", we.WebEngageError, we.BOTH, _RATE),
    Reply(415, "The Content-Type is not JSON.", we.WebEngageError, we.BOTH, _RATE),
    Reply(429, "Over the account's per-minute limit.", we.WebEngageError, we.BOTH, we.LIMITED),
    *we.FAILURE_REPLIES,
)
_EVENT_NAME = Param("event_name", "path", "The business event's name (URL-encoded).", example="Order Placed")


def _saved(name: str, data: Any, description: str) -> Any:
    return we.success_type(name, data, description, message=str)


def _read(op_id: str, summary: str, data: Any, *params: Param, path: str | None = None) -> Operation:
    found = Reply(200, "Found.", we.success_type(f"{op_id[0].upper()}{op_id[1:]}Response", data, summary), we.BOTH)
    missing = Reply(404, "No account has this license code, or no such definition.", we.WebEngageError, we.BOTH)
    replies = tuple(r for r in READ_REPLIES if r.status != 404)
    return Operation(
        id=op_id,
        summary=summary,
        tag="WebEngage",
        security=BEARER,
        params=(LICENSE_CODE, *params, FORMAT),
        replies=(found, missing, *replies),
        path=path,
        method="GET",
    )


PREFIX = "/v2/accounts/{license_code}/business"
_DEFINED = _saved("BusinessDefined", BusinessDefinitionDoc, "The definition as stored.")

routes = [
    ApiRoute(
        f"{PREFIX}/events/definition",
        write_route(DEFINITIONS, define),
        methods=["POST"],
        operations=Operation(
            id="businessDefine",
            summary="Define a business event",
            tag="WebEngage",
            description="201 for a new definition; 200 when it keeps an existing one's attributes and types "
            "(new attributes are added); 409 when it would change a type or drop an attribute.",
            security=BEARER,
            params=(LICENSE_CODE, FORMAT),
            body=BusinessDefinitionIn,
            examples={
                "definition": {
                    "eventName": "Order Placed",
                    "attributes": [{"attributeName": "amount", "dataType": "number"}],
                    "eventCategory": "BUSINESS",
                }
            },
            replies=(
                Reply(201, "Defined.", _DEFINED, we.BOTH, _RATE),
                Reply(200, "Already defined; new attributes added.", _DEFINED, we.BOTH, _RATE),
                Reply(409, "It would change an attribute's type or drop one.", we.WebEngageError, we.BOTH, _RATE),
                *_WRITE_REPLIES,
            ),
        ),
    ),
    ApiRoute(
        f"{PREFIX}/save-event",
        write_route(EVENTS, save),
        methods=["POST"],
        operations=Operation(
            id="businessSaveEvent",
            summary="Save a business event",
            tag="WebEngage",
            security=BEARER,
            params=(LICENSE_CODE, FORMAT),
            body=BusinessEventIn,
            examples={"event": {"eventName": "Order Placed", "eventData": {"amount": 12.5}}},
            replies=(
                Reply(201, "Saved.", _saved("BusinessSaved", BusinessEventDoc, "The event."), we.BOTH, _RATE),
                Reply(
                    404, "No account has this license code, or no definition has this name.", we.WebEngageError, we.BOTH
                ),
                *_WRITE_REPLIES,
            ),
        ),
    ),
    ApiRoute(
        f"{PREFIX}/events",
        read_route(definitions),
        methods=["GET"],
        operations=_read("businessDefinitions", "Every business event definition", BusinessDefinitionsDoc),
    ),
    ApiRoute(
        f"{PREFIX}/events/{{rest:anypath}}",
        read_route(one),
        methods=["GET"],
        operations=(
            _read(
                "businessDefinition",
                "One definition",
                BusinessDefinitionDoc,
                _EVENT_NAME,
                path=f"{PREFIX}/events/{{event_name}}",
            ),
            _read(
                "businessEvents",
                "A business event's saved events, newest first",
                BusinessEventsPage,
                _EVENT_NAME,
                LIMIT,
                CURSOR,
                path=f"{PREFIX}/events/{{event_name}}/events",
            ),
        ),
    ),
]
