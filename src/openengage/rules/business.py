"""Business events (WebEngage `business/events/definition` and `business/save-event`), as pure rules.

A definition names an event and types its attributes (string, number, boolean, date, array, map); a saved
event is checked against it: every key of `eventData` must be a defined attribute holding a value of
its type. Names follow the event and attribute name rules of the tracking API (under 50 characters,
`we_` reserved); at most 25 attributes of each type, as for custom events.
"""

from __future__ import annotations

from typing import Any

from openengage.rules.dates import parse_iso

CATEGORY = "BUSINESS"
DATA_TYPES: tuple[str, ...] = ("string", "number", "boolean", "date", "array", "map")
MAX_NAME_LENGTH = 49
MAX_PER_TYPE = 25
MAX_STRING_LENGTH = 999
RESERVED_PREFIX = "we_"


def name_problem(name: str) -> str | None:
    """Why an event or attribute name cannot be used, or None."""
    if not name.strip():
        return "cannot be empty"
    if name.startswith(RESERVED_PREFIX):
        return "cannot start with 'we_' (reserved)"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be less than {MAX_NAME_LENGTH + 1} characters (got {len(name)})"
    return None


def kind_of(value: Any) -> str:
    """A JSON value in words, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def value_problem(data_type: str, value: Any) -> str | None:
    """Why `value` is not a valid value of an attribute of `data_type`, or None."""
    if data_type == "string":
        if not isinstance(value, str):
            return f"must be a string, not {kind_of(value)}"
        if len(value) > MAX_STRING_LENGTH:
            return f"must be at most {MAX_STRING_LENGTH} characters (got {len(value)})"
        return None
    if data_type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"must be a number, not {kind_of(value)}"
    if data_type == "boolean":
        return None if isinstance(value, bool) else f"must be a boolean, not {kind_of(value)}"
    if data_type == "date":
        if not isinstance(value, str) or parse_iso(value) is None:
            return "must be a date such as 2019-01-05T13:06:56+0530" + (
                "" if isinstance(value, str) else f", not {kind_of(value)}"
            )
        return None
    if data_type == "array":
        return None if isinstance(value, list) else f"must be an array, not {kind_of(value)}"
    if data_type == "map":
        return None if isinstance(value, dict) else f"must be a JSON object (map), not {kind_of(value)}"
    return f"has an unknown data type '{data_type}'"


def merged_attributes(
    current: list[tuple[str, str]], wanted: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]] | None, str | None]:
    """The attributes of a definition posted again: (attributes, None) when `wanted` keeps every current
    attribute with its type (new ones are added), else (None, why not)."""
    have = dict(current)
    want = dict(wanted)
    for name, data_type in current:
        if name not in want:
            return None, f"attribute '{name}' is defined and cannot be removed"
        if want[name] != data_type:
            return None, f"attribute '{name}' is defined as {data_type} and cannot become {want[name]}"
    return current + [(n, t) for n, t in wanted if n not in have], None


def per_type_problem(attributes: list[tuple[str, str]]) -> str | None:
    counts: dict[str, int] = {}
    for _, data_type in attributes:
        counts[data_type] = counts.get(data_type, 0) + 1
    for data_type in DATA_TYPES:
        if counts.get(data_type, 0) > MAX_PER_TYPE:
            return f"at most {MAX_PER_TYPE} attributes of type {data_type} (got {counts[data_type]})"
    return None
