"""Custom attribute rules from the WebEngage seeds, as pure functions.

- names are case-sensitive and must be less than 50 characters; names starting `we_` are ignored;
- string values must be less than 1000 characters, the rest is truncated;
- types are String, Number, Boolean, Date, JSON Array and JSON Object; the first value of an attribute
  fixes its type and later values of another type are dropped;
- at most 25 custom attributes of each type per scope (user attributes of an account, or the
  attributes of one event name).
Every drop or truncation comes back as an Issue, which the processor records.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import Any

from openengage import reasons
from openengage.rules.dates import parse_iso

STRING = "String"
NUMBER = "Number"
BOOLEAN = "Boolean"
DATE = "Date"
ARRAY = "JSON Array"
OBJECT = "JSON Object"
TYPES: tuple[str, ...] = (STRING, NUMBER, BOOLEAN, DATE, ARRAY, OBJECT)

MAX_NAME_LENGTH = 49
MAX_STRING_LENGTH = 999
MAX_PER_TYPE = 25
RESERVED_PREFIX = "we_"

# Rejection reasons: their home is openengage/reasons.py.
R_RESERVED_PREFIX = reasons.RESERVED_PREFIX
R_NAME_TOO_LONG = reasons.NAME_TOO_LONG
R_EMPTY_NAME = reasons.EMPTY_NAME
R_TYPE_CONFLICT = reasons.TYPE_CONFLICT
R_TYPE_LIMIT = reasons.TYPE_LIMIT
R_NULL_VALUE = reasons.NULL_VALUE
R_TRUNCATED = reasons.TRUNCATED


@dataclasses.dataclass(frozen=True)
class Issue:
    """One dropped or truncated datum. `dropped` is False for truncations (the value was kept)."""

    field: str
    reason: str
    detail: str
    value: Any = None
    dropped: bool = True


def value_type(value: Any) -> str | None:
    """The attribute type of a JSON value; None for null."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return DATE if parse_iso(value) is not None else STRING
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, dict):
        return OBJECT
    return None


def name_issue(field: str, name: str) -> Issue | None:
    """Why an attribute name cannot be stored, or None."""
    if name == "":
        return Issue(field, R_EMPTY_NAME, "attribute names cannot be empty")
    if name.startswith(RESERVED_PREFIX):
        return Issue(field, R_RESERVED_PREFIX, "names starting with 'we_' are reserved and ignored")
    if len(name) > MAX_NAME_LENGTH:
        return Issue(field, R_NAME_TOO_LONG, f"names must be less than {MAX_NAME_LENGTH + 1} characters")
    return None


def truncate(field: str, value: str) -> tuple[str, Issue | None]:
    if len(value) <= MAX_STRING_LENGTH:
        return value, None
    issue = Issue(
        field,
        R_TRUNCATED,
        f"string of {len(value)} characters truncated to {MAX_STRING_LENGTH}",
        value[:80] + "…",
        dropped=False,
    )
    return value[:MAX_STRING_LENGTH], issue


class Schema:
    """The locked types of one scope. `admit` locks new names; it never changes a locked type."""

    def __init__(self, types: Mapping[str, str] | None = None) -> None:
        self.types: dict[str, str] = dict(types or {})
        self.counts: Counter[str] = Counter(self.types.values())
        self.added: dict[str, tuple[str, int]] = {}  # name -> (type, first seen ms)

    def admit(self, field: str, name: str, vtype: str, value: Any, at: int = 0) -> Issue | None:
        locked = self.types.get(name)
        if locked is None:
            if self.counts[vtype] >= MAX_PER_TYPE:
                return Issue(
                    field,
                    R_TYPE_LIMIT,
                    f"already {MAX_PER_TYPE} custom attributes of type {vtype}",
                    _preview(value),
                )
            self.types[name] = vtype
            self.counts[vtype] += 1
            self.added[name] = (vtype, at)
            return None
        if locked == vtype or (locked == STRING and vtype == DATE):
            return None  # a date-looking string is still a string
        return Issue(field, R_TYPE_CONFLICT, f"type is locked to {locked}; got {vtype}", _preview(value))


_PY_TYPES: dict[type, str] = {bool: BOOLEAN, int: NUMBER, float: NUMBER, list: ARRAY, dict: OBJECT}


def clean_attributes(
    prefix: str, attributes: Mapping[str, Any], schema: Schema, at: int = 0
) -> tuple[dict[str, Any], list[Issue]]:
    """Apply name, null, truncation, type-lock and per-type-limit rules to one attribute map."""
    kept: dict[str, Any] = {}
    issues: list[Issue] = []
    types = schema.types
    for name, value in attributes.items():
        # Fast path: a name already in the schema passed the name rules when it was locked, and a
        # value of the locked type needs no further check (a string into a String needs no date parse).
        locked = types.get(name)
        if locked is not None:
            kind = type(value)
            if kind is str:
                if locked == STRING or (locked == DATE and parse_iso(value) is not None):
                    if len(value) > MAX_STRING_LENGTH:
                        value, cut = truncate(f"{prefix}.{name}", value)
                        issues.append(cut)  # type: ignore[arg-type]
                    kept[name] = value
                    continue
            elif _PY_TYPES.get(kind) == locked:
                kept[name] = value
                continue
        field = f"{prefix}.{name}"
        problem = name_issue(field, name)
        if problem is not None:
            issues.append(dataclasses.replace(problem, value=_preview(value)))
            continue
        vtype = value_type(value)
        if vtype is None:
            issues.append(Issue(field, R_NULL_VALUE, "null values are ignored"))
            continue
        refused = schema.admit(field, name, vtype, value, at)
        if refused is not None:
            issues.append(refused)
            continue
        if isinstance(value, str):
            value, cut = truncate(field, value)
            if cut is not None:
                issues.append(cut)
        kept[name] = value
    return kept, issues


def _preview(value: Any) -> Any:
    """Values are kept in rejections for debugging, but long strings are shortened."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value


def same(a: Any, b: Any) -> bool:
    """JSON equality, without recursion: values may nest as deeply as the decoder allows, deeper than
    Python's `==` can compare. Unlike `==`, true and 1 differ (they are different JSON values)."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if isinstance(x, dict):
            if not isinstance(y, dict) or x.keys() != y.keys():
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(y, dict | list) or isinstance(x, bool) != isinstance(y, bool) or x != y:
            return False
    return True


def contains(values: list[Any], value: Any) -> bool:
    return any(same(v, value) for v in values)


def add_values(current: Any, values: list[Any]) -> list[Any]:
    """MoEngage `addValueToArrayField`: append the values not already present."""
    out = list(current) if isinstance(current, list) else []
    for value in values:
        if not contains(out, value):
            out.append(value)
    return out


def remove_values(current: Any, values: list[Any]) -> list[Any]:
    """MoEngage `removeValueFromArrayField`."""
    if not isinstance(current, list):
        return []
    return [v for v in current if not contains(values, v)]


def unset_matches(name: str, match: str, attr: str, case_sensitive: bool) -> bool:
    """MoEngage `unset_attributes` rule: equals, prefix, suffix or contains."""
    if not case_sensitive:
        name, attr = name.lower(), attr.lower()
    if match == "equals":
        return name == attr
    if match == "prefix":
        return name.startswith(attr)
    if match == "suffix":
        return name.endswith(attr)
    if match == "contains":
        return attr in name
    return False
