"""MoEngage attribute values: standard user attributes, platforms, device attributes, export (pure).

A MoEngage standard attribute lands on the same profile field as its WebEngage system attribute, so
one person is one profile whichever dialect wrote it: `first_name` is `firstName`, `mobile` is `phone`
and so on (the table is STANDARD below and docs/moengage.md). Every other key is a custom attribute,
checked by the processor's name, type-lock and data-quality rules like any WebEngage attribute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from openengage import reasons
from openengage.api import moengage_errors as err
from openengage.records import Drop
from openengage.rules.dates import format_ms, parse_iso

# Drop reasons the processor records (their home: openengage/reasons.py).
R_INVALID_VALUE = reasons.INVALID_VALUE
R_RESERVED_NAME = reasons.RESERVED_NAME
R_PLATFORM_MISMATCH = reasons.PLATFORM_MISMATCH
R_UNKNOWN_FIELD = reasons.UNKNOWN_FIELD

# Value kinds of standard attributes.
TEXT = "String"
PHONE = "phone"
GENDER = "gender"
DATE = "date"
BOOL = "Boolean"
NEGATED_BOOL = "negated"

# MoEngage input key -> (profile field, kind). The `u_*` keys are MoEngage's internal/export names of
# the same attributes (MoEngage's Data API OpenAPI schema, developers.moengage.com), accepted as input too.
STANDARD: dict[str, tuple[str, str]] = {
    "name": ("name", TEXT),
    "first_name": ("firstName", TEXT),
    "last_name": ("lastName", TEXT),
    "email": ("email", TEXT),
    "mobile": ("phone", PHONE),
    "gender": ("gender", GENDER),
    "birthday": ("birthDate", DATE),
    "u_n": ("name", TEXT),
    "u_fn": ("firstName", TEXT),
    "u_ln": ("lastName", TEXT),
    "u_em": ("email", TEXT),
    "u_mb": ("phone", PHONE),
    "u_gd": ("gender", GENDER),
    "u_bd": ("birthDate", DATE),
    "moe_unsubscribe": ("emailOptIn", NEGATED_BOOL),
    "moe_wa_subscription": ("whatsappOptIn", BOOL),
}
PLATFORMS_KEY = "platforms"
ARRAY_OPERATORS = ("addValueToArrayField", "removeValueFromArrayField")
# Blocked as user attribute names (MoEngage's Data API OpenAPI schema, UserAttributes).
BLOCKED_NAMES = frozenset({"id", "_id"})
GENDERS = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other"}

# Platform values, matched case-insensitively, stored in the vendor's documented casing.
PLATFORMS = {"android": "ANDROID", "ios": "iOS", "web": "web", "tv": "TV"}
EVENT_PLATFORMS = {**PLATFORMS, "unknown": "unknown"}

DEVICE_TEXT = ("push_id", "model", "app_version", "os_version", "moe_gaid", "idfv", "brand")
DEVICE_BOOLS = ("moe_push_opted", "moe_push_provisional_opted", "push_preference", "active")
DEVICE_NUMBERS = ("created_time",)
# The advertising id the other platform family cannot have is dropped (MoEngage's Track Device page:
# GAID is dropped on iOS, IDFV on Android).
DROPPED_ON = {"moe_gaid": "iOS", "idfv": "ANDROID"}


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "JSON Object"


def as_bool(attribute: str, value: Any) -> bool:
    """true/false, also as the strings the vendor's examples send ("true", "True")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise err.expected(attribute, "Boolean")


def as_text(attribute: str, value: Any) -> str:
    """A string; numbers are accepted and written as text (`"app_version": 10.1`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise err.expected(attribute, "String")


def platform_name(value: Any, known: Mapping[str, str] = PLATFORMS) -> str | None:
    if not isinstance(value, str):
        return None
    return known.get(value.strip().lower())


def invalid_platform(attribute: str = "platform") -> err.Invalid:
    return err.Invalid("'platform' is not a valid platform.", err.VALUE_ERROR, attribute)


def platforms(value: Any) -> list[dict[str, Any]]:
    """`[{"platform": "ANDROID", "active": "true"}]` -> `[{"platform": "ANDROID", "active": True}]`."""
    if not isinstance(value, list):
        raise err.expected(PLATFORMS_KEY, "Array")
    out: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise err.expected(PLATFORMS_KEY, "Array of JSON Objects")
        name = platform_name(item.get("platform"))
        if name is None:
            raise invalid_platform(PLATFORMS_KEY)
        active = as_bool("active", item["active"]) if item.get("active") is not None else True
        out = [p for p in out if p["platform"] != name]
        out.append({"platform": name, "active": active})
    return out


def _standard_value(key: str, kind: str, value: Any) -> tuple[Any, Drop | None]:
    """The profile value of one standard attribute, or a Drop when the value cannot be stored."""
    if kind in (BOOL, NEGATED_BOOL):
        flag = as_bool(key, value)
        return (not flag if kind == NEGATED_BOOL else flag), None
    text = as_text(key, value) if kind == PHONE else value
    if not isinstance(text, str):
        raise err.expected(key, "String")
    if kind == GENDER:
        gender = GENDERS.get(text.strip().lower())
        return gender, (None if gender else Drop(key, R_INVALID_VALUE, text))
    if kind == DATE and parse_iso(text) is None:
        return None, Drop(key, R_INVALID_VALUE, text)
    return text, None


def split_attributes(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[Drop]]:
    """Track User `attributes` -> (profile fields, custom attributes, drops).

    `platforms` and the array operators are taken out by the caller first.
    """
    system: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    drops: list[Drop] = []
    for key, value in attributes.items():
        standard = STANDARD.get(key)
        if standard is None:
            if key in BLOCKED_NAMES:
                drops.append(Drop(key, R_RESERVED_NAME, value))
            else:
                custom[key] = value
            continue
        if value is None or value == "":
            continue  # not sent (clients that serialise every field send "" for unset ones)
        field, kind = standard
        stored, drop = _standard_value(key, kind, value)
        if drop is not None:
            drops.append(drop)
        else:
            system[field] = stored
    return system, custom, drops


def device_attributes(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], list[Drop]]:
    """Track Device `attributes` -> (stored device fields, drops). Custom device attributes are dropped."""
    if attributes.get("platform") is None:
        raise err.missing("platform", quoted=True)
    platform = platform_name(attributes["platform"])
    if platform is None:
        raise invalid_platform()
    if attributes.get("push_id") is None:
        raise err.missing("push_id", quoted=True)
    device: dict[str, Any] = {"platform": platform}
    drops: list[Drop] = []
    for key, value in attributes.items():
        if key == "platform" or value is None:
            continue
        field = f"attributes.{key}"
        if key in DEVICE_TEXT:
            text = as_text(key, value)
            if DROPPED_ON.get(key) == platform:
                drops.append(Drop(field, R_PLATFORM_MISMATCH, text))
            else:
                device[key] = text
        elif key in DEVICE_BOOLS:
            device[key] = as_bool(key, value)
        elif key in DEVICE_NUMBERS and isinstance(value, int | float | str) and not isinstance(value, bool):
            device[key] = value
        else:
            drops.append(Drop(field, R_UNKNOWN_FIELD, value))
    return device, drops


# ---------------------------------------------------------------- export (Get User)

_EXPORT_NAMES: dict[str, str] = {
    field: key for key, (field, kind) in STANDARD.items() if not key.startswith("u_") and kind != NEGATED_BOOL
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def export_name(field: str) -> str:
    """A profile field under its MoEngage name, else its WebEngage backend name (`postalCode` -> `postal_code`)."""
    return _EXPORT_NAMES.get(field) or _CAMEL.sub("_", field).lower()


def export_user(
    user_id: str | None,
    system: Mapping[str, Any],
    custom: Mapping[str, Any],
    first_seen: int | None,
    last_seen: int | None,
    fields: Iterable[str] | None,
    moengage_id: str | None = None,
) -> dict[str, Any]:
    """`user_attributes` of one exported user: `customer_id`, the MoEngage ID (`id`), standard attributes under
    MoEngage names, then custom ones."""
    out: dict[str, Any] = {"customer_id": user_id}
    if moengage_id is not None:
        out["id"] = moengage_id
    for field, value in system.items():
        if field == "emailOptIn":
            out["moe_unsubscribe"] = not value
        else:
            out[export_name(field)] = value
    for name, value in custom.items():
        out.setdefault(name, value)
    if first_seen is not None:
        out["first_seen"] = format_ms(first_seen)
    if last_seen is not None:
        out["last_seen"] = format_ms(last_seen)
    if fields is None:
        return out
    wanted = set(fields)
    return {k: v for k, v in out.items() if k in wanted}


# ---------------------------------------------------------------- the MoEngage ID

MOENGAGE_ID_DIGITS = 24  # like the vendor's ids (`62e79fb15ada55x123g987bu`): 24 characters
_MOENGAGE_ID = re.compile(r"[0-9a-f]{24}")
_MAX_PROFILE_ID = 2**63 - 1


def moengage_id(profile_id: int) -> str:
    """A profile's MoEngage ID: its internal number in 24 hex digits. Stable for the profile's life (a
    merge keeps the retained user's); a user deleted and created again gets a new one, as at MoEngage."""
    return f"{profile_id:0{MOENGAGE_ID_DIGITS}x}"


def profile_id_of(value: str) -> int | None:
    """The profile a MoEngage ID names, or None when it cannot name one."""
    text = value.strip().lower()
    if not _MOENGAGE_ID.fullmatch(text):
        return None
    number = int(text, 16)
    return number if 0 < number <= _MAX_PROFILE_ID else None
