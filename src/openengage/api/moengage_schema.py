"""MoEngage Data API request validation: vendor JSON in, internal records out (pure).

Structural problems raise `Invalid` with the vendor's error type and message, answered at once with
400 and nothing stored. Well-typed data a content rule later drops (a 50-character attribute name, a
type conflict, a device for an unknown user) is accepted here and recorded by the processor. Choices
where the vendor's documents are silent or disagree are listed in docs/moengage.md.

What no store can hold is refused here too (api/guard.py): bodies nested more than MAX_DEPTH levels,
the NUL character anywhere, and times outside the supported range (rules/dates.py).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import msgspec

from openengage.api import moengage_attributes as attrs
from openengage.api import moengage_errors as err
from openengage.api.guard import NUL_TEXT, describe, nul_path, too_deep
from openengage.api.moengage_errors import Invalid
from openengage.records import DeviceRecord, Drop, EventRecord, MergeRecord, Record, UnsetRule, UserRecord
from openengage.rules.dates import SUPPORTED_RANGE, epoch_text_to_ms, epoch_to_ms, in_range, out_of_range, parse_iso

MAX_BODY_BYTES = 128 * 1024
MAX_ID_LENGTH = 100  # the same limit as a WebEngage userId: one person, two dialects
# Device ids are UUIDs, GAIDs, IDFVs (36 characters) in every source; the bound keeps them within what
# PostgreSQL can index (a btree row holds at most 2,704 bytes: a longer id failed the processor forever).
MAX_DEVICE_ID_LENGTH = 255
MAX_MERGE_PAIRS = 50
MAX_EXPORT_IDS = 20
MAX_TIMEZONE_OFFSET = 54_000
# "Allowed values of customer_id" (the seed): these placeholders are refused, compared ignoring case.
BLOCKED_IDS = frozenset(
    {
        "unknown", "guest", "null", "0", "1", "true", "false", "user_attribute_unique_id", "(empty)", "na", "n/a",
        "dummy_seller_code", "user_id", "id", "customer_id", "uid", "userid", "none", "-2", "-1", "2",
    }
)  # fmt: skip
UNSET_MATCHES = ("equals", "prefix", "suffix", "contains")
ELEMENT_TYPES = ("customer", "event", "device")

_CUSTOMER_KNOWN = frozenset(
    {"type", "customer_id", "update_existing_only", "attributes", "platforms", "unset_attributes"}
)
_EVENT_KNOWN = frozenset({"type", "customer_id", "device_id", "actions"})
_ACTION_KNOWN = frozenset({
    "action", "attributes", "platform", "app_version", "user_time", "current_time", "user_timezone_offset",
    "moe_os_type",
})  # fmt: skip
_DEVICE_KNOWN = frozenset({"type", "customer_id", "device_id", "attributes"})
_BARE_ACTION = frozenset({"action", "attributes", "current_time"})
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")
_PLAIN_ID = re.compile(rf"\S(?:.{{0,{MAX_ID_LENGTH - 2}}}\S)?", re.DOTALL)
_ZONED = re.compile(r"[T ].*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")


def decode_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise err.EMPTY_BODY()
    if too_deep(body):
        raise err.TOO_DEEP()
    try:
        data = msgspec.json.decode(body)
    except RecursionError:  # not reached past too_deep(); kept so no body can turn into a 500
        raise err.TOO_DEEP() from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise err.MALFORMED() from None
    if not isinstance(data, dict):
        raise err.NOT_AN_OBJECT()
    return data


# ---------------------------------------------------------------- shared fields


def storable(obj: Any) -> None:
    """Refuse U+0000 anywhere in a request or element, naming where (PostgreSQL cannot store it)."""
    found = nul_path(obj)
    if found is not None:
        raise Invalid(f"{describe(*found)} contains {NUL_TEXT}", err.VALUE_ERROR, found[0] or None)


def customer_id(value: Any, attribute: str = "customer_id", quoted: bool = False) -> str:
    """A known user id: a non-empty string, not a blocked placeholder, at most 100 characters."""
    if type(value) is str and _PLAIN_ID.fullmatch(value) and value.lower() not in BLOCKED_IDS and "\x00" not in value:
        return value  # the usual id: no surrounding blanks, 1 to 100 characters, not a placeholder, no NUL
    if value is None:
        raise err.missing(attribute, quoted)
    if not isinstance(value, str):
        raise err.expected(attribute, "String or Unicode String")
    if not value.strip():
        raise err.empty_string(attribute)
    if value.strip().lower() in BLOCKED_IDS:
        raise Invalid(
            f"{attribute} '{value}' is a blocked placeholder value and is not accepted; send the user's unique id",
            err.VALUE_ERROR,
            attribute,
        )
    if len(value) > MAX_ID_LENGTH:
        raise Invalid(
            f"{attribute} can be of maximum {MAX_ID_LENGTH} characters (got {len(value)})", err.VALUE_ERROR, attribute
        )
    if "\x00" in value:
        raise Invalid(f"{attribute} contains {NUL_TEXT}", err.VALUE_ERROR, attribute)
    return value


def require_type(obj: dict[str, Any], expected: str) -> None:
    """`type` is optional on the single endpoints (the path says it), but when sent it must match exactly."""
    value = obj.get("type")
    if value is not None and value != expected:
        raise Invalid(f"type should be {expected}", err.ATTRIBUTE_ERROR, "type")


def _object(obj: dict[str, Any], key: str, required: bool = False, quoted: bool = False) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        if required:
            raise err.missing(key, quoted)
        return {}
    if not isinstance(value, dict):
        raise err.expected(key, "JSON Object")
    return value


def _array(obj: dict[str, Any], key: str) -> list[Any]:
    """A required, non-empty array."""
    value = obj.get(key)
    if value is None:
        raise err.missing(key)
    if not isinstance(value, list):
        raise err.expected(key, "Array")
    if not value:
        raise err.empty_array(key)
    return value


def _optional_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return attrs.as_text(key, value)


def _device_id(obj: dict[str, Any]) -> str | None:
    value = _optional_text(obj, "device_id")
    if value is not None and len(value) > MAX_DEVICE_ID_LENGTH:
        raise Invalid(
            f"device_id can be of maximum {MAX_DEVICE_ID_LENGTH} characters (got {len(value)})",
            err.VALUE_ERROR,
            "device_id",
        )
    return value


def _unknown(obj: dict[str, Any], known: frozenset[str]) -> list[Drop]:
    if obj.keys() <= known:  # the usual case, checked in C
        return []
    return [Drop(key, attrs.R_UNKNOWN_FIELD, value) for key, value in obj.items() if key not in known]


# ---------------------------------------------------------------- Track User


def _array_ops(attributes: dict[str, Any]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Take `addValueToArrayField` / `removeValueFromArrayField` out of `attributes`, with the vendor's rules."""
    ops: list[dict[str, list[Any]]] = []
    for op in attrs.ARRAY_OPERATORS:
        raw = attributes.pop(op, None)
        if raw is None:
            ops.append({})
            continue
        if not isinstance(raw, dict):
            raise err.expected(op, "JSON Object")
        for name, values in raw.items():
            if not isinstance(values, list):
                raise Invalid(f"{op} values are expected to be Array ('{name}')", err.ARRAY_FIELD, op)
            if name in attrs.STANDARD or name == attrs.PLATFORMS_KEY or name in attrs.BLOCKED_NAMES:
                raise Invalid(f"Cannot add or remove values of the reserved attribute '{name}'", err.ARRAY_FIELD, op)
            if name in attributes:
                raise Invalid(f"Cannot set and add/remove '{name}' at the same time", err.ARRAY_FIELD, op)
        ops.append(raw)
    add, remove = ops
    for name in add:
        if name in remove:
            raise Invalid(f"Cannot add and remove '{name}' at the same time", err.ARRAY_FIELD, attrs.ARRAY_OPERATORS[0])
    return add, remove


def _unset(value: Any) -> list[UnsetRule]:
    if value is None:
        return []
    rules = [value] if isinstance(value, dict) else value
    if not isinstance(rules, list):
        raise err.expected("unset_attributes", "Array")
    out: list[UnsetRule] = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise err.expected("unset_attributes", "Array of JSON Objects")
        match = rule.get("type")
        if match not in UNSET_MATCHES:
            raise Invalid(
                f"unset_attributes type must be one of {', '.join(UNSET_MATCHES)}", err.VALUE_ERROR, "unset_attributes"
            )
        attr = rule.get("attr")
        if not isinstance(attr, str) or not attr:
            raise err.expected("attr", "non-empty String")
        sensitive = rule.get("case_sensitive")
        out.append(UnsetRule(match, attr, True if sensitive is None else attrs.as_bool("case_sensitive", sensitive)))
    return out


def parse_customer(obj: dict[str, Any]) -> UserRecord:
    storable(obj)
    require_type(obj, "customer")
    user_id = customer_id(obj.get("customer_id"))
    existing_only = obj.get("update_existing_only")
    attributes = dict(_object(obj, "attributes"))
    add, remove = _array_ops(attributes)
    # `platforms` is documented both inside `attributes` (every example) and at the top level (the schema).
    platform_lists = [v for v in (obj.get("platforms"), attributes.pop(attrs.PLATFORMS_KEY, None)) if v is not None]
    system, custom, drops = attrs.split_attributes(attributes)
    if platform_lists:
        system[attrs.PLATFORMS_KEY] = attrs.platforms([p for value in platform_lists for p in _list(value)])
    return UserRecord(
        user_id=user_id,
        system=system,
        attributes=custom,
        update_existing_only=False if existing_only is None else attrs.as_bool("update_existing_only", existing_only),
        add_to_array=add,
        remove_from_array=remove,
        unset=_unset(obj.get("unset_attributes")),
        dropped=_unknown(obj, _CUSTOMER_KNOWN) + drops,
    )


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise err.expected(attrs.PLATFORMS_KEY, "Array")
    return value


# ---------------------------------------------------------------- Track Event


def out_of_range_time(attribute: str, value: Any) -> Invalid:
    return Invalid(
        f"{attribute} {msgspec.json.encode(value).decode()} is outside the supported range, {SUPPORTED_RANGE}",
        err.VALUE_ERROR,
        attribute,
    )


def parse_time(attribute: str, value: Any) -> tuple[int, str | None]:
    """(epoch ms, the text to show as sent or None).

    ISO 8601 strings (offsets and fractions included), epoch seconds or milliseconds as numbers or
    digit strings: the vendor documents seconds but its examples send 13-digit millisecond strings.
    Times outside the supported range (rules/dates.py) are refused.
    """
    ms: int | None
    if isinstance(value, str):
        text = value.strip()
        if _EPOCH.fullmatch(text):
            ms = epoch_text_to_ms(text)
            if ms is None:
                raise out_of_range_time(attribute, value)
            return ms, None
        ms = parse_iso(text)
        if ms is not None:
            return ms, value
        if out_of_range(text):
            raise out_of_range_time(attribute, value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ms = epoch_to_ms(value)
        if ms is None:
            raise out_of_range_time(attribute, value)
        return ms, None
    raise err.expected(attribute, "an ISO 8601 date-time or epoch seconds or milliseconds")


def _offset(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and _EPOCH.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise err.expected("user_timezone_offset", "Number (seconds)")
    if math.isfinite(value) and value != int(value):
        raise err.expected("user_timezone_offset", "Number (seconds)")
    if not -MAX_TIMEZONE_OFFSET <= value <= MAX_TIMEZONE_OFFSET:
        raise Invalid(
            f"user_timezone_offset must be between -{MAX_TIMEZONE_OFFSET} and {MAX_TIMEZONE_OFFSET} seconds",
            err.VALUE_ERROR,
            "user_timezone_offset",
        )
    return int(value)


def _event_time(action: dict[str, Any], offset: int | None) -> tuple[int | None, str | None]:
    """current_time (UTC) wins; else user_time (local time) shifted by the offset unless it names its zone.

    A user_time sent with a current_time is kept with the event as sent, so it is checked all the same.
    """
    user = action.get("user_time")
    user_ms: int | None = None
    if user is not None and user != "":
        user_ms, text = parse_time("user_time", user)
        zoned = text is not None and _ZONED.search(text.strip()) is not None
        if offset is not None and not zoned:
            user_ms -= offset * 1000
            if not in_range(user_ms):
                raise out_of_range_time("user_time", user)
    current = action.get("current_time")
    if current is not None and current != "":
        return parse_time("current_time", current)
    return user_ms, None


def _action_name(action: Any) -> str:
    if not isinstance(action, dict):
        raise err.expected("actions", "Array of JSON Objects")
    name = action.get("action")
    if name is None:
        raise err.missing("action")
    if not isinstance(name, str):
        raise Invalid("action is expected to be String", "Malformed JSON", "action")
    if not name.strip():
        raise err.empty_string("action")
    return vendor_event_name(name)


def vendor_event_name(name: str) -> str:
    """An event name as MoEngage ingests it: every "." followed by a space ("event.name" -> "event. name";
    the vendor's Data Tracking Policy). Attribute names keep their dots."""
    return name.replace(".", ". ") if "." in name else name


def _context(action: dict[str, Any], context: dict[str, Any], offset: int | None) -> None:
    """Platform, app version, TV os type, user time and offset: kept with the event as sent (platform normalised)."""
    platform = _optional_text(action, "platform")
    if platform is not None:
        context["platform"] = attrs.EVENT_PLATFORMS.get(platform.strip().lower(), platform)
    for key in ("app_version", "moe_os_type"):
        text = _optional_text(action, key)
        if text is not None:
            context[key] = text
    user_time = action.get("user_time")
    if user_time is not None and user_time != "":
        context["user_time"] = user_time
    if offset is not None:
        context["user_timezone_offset"] = offset


def _action(user_id: str, device_id: str | None, action: Any, dropped: list[Drop]) -> EventRecord:
    name = _action_name(action)
    raw_offset = action.get("user_timezone_offset")
    offset = None if raw_offset is None else _offset(raw_offset)
    time_ms, time_text = _event_time(action, offset)
    context: dict[str, Any] = {} if device_id is None else {"device_id": device_id}
    if not action.keys() <= _BARE_ACTION:  # the lean bodies skip the rest
        _context(action, context, offset)
        dropped = dropped + _unknown(action, _ACTION_KNOWN)
    data = action.get("attributes")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise err.expected("attributes", "JSON Object")
    return EventRecord(name, user_id, None, time_ms, time_text, data, context, dropped)


def parse_event(obj: dict[str, Any]) -> list[EventRecord]:
    """One record per action; fields the API does not know are recorded once, on the first."""
    storable(obj)
    kind = obj.get("type")
    if kind is not None and kind != "event":
        require_type(obj, "event")
    user_id = customer_id(obj.get("customer_id"))
    device_id = _device_id(obj) if "device_id" in obj else None
    actions = obj.get("actions")
    if type(actions) is not list or not actions:
        actions = _array(obj, "actions")
    top = [] if obj.keys() <= _EVENT_KNOWN else _unknown(obj, _EVENT_KNOWN)
    if len(actions) == 1:
        return [_action(user_id, device_id, actions[0], top)]
    return [_action(user_id, device_id, a, top if i == 0 else []) for i, a in enumerate(actions)]


# ---------------------------------------------------------------- Track Device


def parse_device(obj: dict[str, Any]) -> DeviceRecord:
    storable(obj)
    require_type(obj, "device")
    user_id = customer_id(obj.get("customer_id"), quoted=True)
    device, drops = attrs.device_attributes(_object(obj, "attributes", required=True, quoted=True))
    return DeviceRecord(
        user_id=user_id,
        device_id=_device_id(obj),
        attributes=device,
        dropped=_unknown(obj, _DEVICE_KNOWN) + drops,
    )


# ---------------------------------------------------------------- Bulk Import


@dataclasses.dataclass(frozen=True)
class Bulk:
    records: list[Record]
    users: int  # customer and device elements
    events: int  # actions of event elements


def parse_bulk(obj: dict[str, Any]) -> Bulk:
    """Every element is checked as its own endpoint would; one invalid element refuses the whole request."""
    require_type(obj, "transition")
    value = obj.get("elements")
    if value is None:
        raise err.missing("elements")
    if not isinstance(value, list):
        raise err.expected("elements", "Array")
    if not value:
        raise Invalid("elements cannot be empty array", err.MISSING_ATTRIBUTE, "elements")
    records: list[Record] = []
    users = events = 0
    for index, element in enumerate(value):
        kind = element.get("type") if isinstance(element, dict) else None
        try:
            if kind not in ELEMENT_TYPES or not isinstance(element, dict):
                raise Invalid("type in elements should be customer/event/device", err.ATTRIBUTE_ERROR, "type")
            if kind == "event":
                actions = parse_event(element)
                records.extend(actions)
                events += len(actions)
            else:
                records.append(parse_customer(element) if kind == "customer" else parse_device(element))
                users += 1
        except Invalid as exc:
            raise Invalid(f"elements[{index}]: {exc.message}", exc.type, exc.attribute) from None
    return Bulk(records, users, events)


# ---------------------------------------------------------------- Merge, Delete, Get User


def parse_merge(obj: dict[str, Any]) -> list[MergeRecord]:
    pairs = _array(obj, "merge_data")
    if len(pairs) > MAX_MERGE_PAIRS:
        raise Invalid(f"max limit allowed is {MAX_MERGE_PAIRS}", err.LIMIT_BREACHED, "merge_data")
    records: list[MergeRecord] = []
    for pair in pairs:
        if not isinstance(pair, dict):
            raise err.expected("merge_data", "Array of JSON Objects")
        merged = customer_id(pair.get("merged_user"), "merged_user")
        retained = customer_id(pair.get("retained_user"), "retained_user")
        if merged == retained:
            raise Invalid(f"merged_user and retained_user are the same user '{merged}'", err.VALUE_ERROR, "merged_user")
        records.append(MergeRecord(merged, retained))
    return records


# Identifier types of Delete User and Get User: `customer_id`, and the MoEngage ID, documented as
# `moengage_id` (the enums) and as `id` (Get User's example, the rendered Delete page's enum).
CUSTOMER_ID = "customer_id"
MOENGAGE_ID_TYPES = ("moengage_id", "id")
IDENTIFIER_TYPES = (CUSTOMER_ID, *MOENGAGE_ID_TYPES)


def _identifier(kind: Any, value: Any, type_field: str, value_field: str) -> tuple[str, str]:
    """(identifier type, identifier) of a Delete or Get User identity."""
    if kind is None:
        raise err.missing(type_field)
    if kind not in IDENTIFIER_TYPES:
        raise Invalid(
            f"{type_field} '{kind}' is not supported; use one of {', '.join(IDENTIFIER_TYPES)}",
            err.VALUE_ERROR,
            type_field,
        )
    if kind == CUSTOMER_ID:
        return kind, customer_id(value, value_field)
    if value is None:
        raise err.missing(value_field)
    if not isinstance(value, str):
        raise err.expected(value_field, "String or Unicode String")
    if not value.strip():
        raise err.empty_string(value_field)
    if len(value) > MAX_ID_LENGTH:
        raise Invalid(
            f"{value_field} can be of maximum {MAX_ID_LENGTH} characters (got {len(value)})",
            err.VALUE_ERROR,
            value_field,
        )
    if "\x00" in value:
        raise Invalid(f"{value_field} contains {NUL_TEXT}", err.VALUE_ERROR, value_field)
    return str(kind), value


def parse_delete(obj: dict[str, Any]) -> tuple[str, str]:
    """(identity type, identity value): a customer_id, or a MoEngage ID the API resolves to its user."""
    return _identifier(obj.get("identity_type"), obj.get("identity_value"), "identity_type", "identity_value")


@dataclasses.dataclass(frozen=True)
class Export:
    identifiers: list[tuple[str, str]]  # (identifier_type as sent, identifier)
    fields: list[str] | None  # None: every attribute


def parse_export(obj: dict[str, Any]) -> Export:
    data = _object(obj, "data", required=True)
    identifiers = _array(data, "identifiers")
    if len(identifiers) > MAX_EXPORT_IDS:
        raise Invalid(f"max limit allowed is {MAX_EXPORT_IDS}", err.LIMIT_BREACHED, "users")
    ids: list[tuple[str, str]] = []
    for identifier in identifiers:
        if not isinstance(identifier, dict):
            raise err.expected("identifiers", "Array of JSON Objects")
        kind = identifier.get("identifier_type")
        ids.append(_identifier(kind, identifier.get("identifier"), "identifier_type", "identifier"))
    fields = data.get("user_fields_to_export")
    if fields is not None and (not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)):
        raise err.expected("user_fields_to_export", "Array of Strings")
    return Export(ids, fields)
