"""What the dashboard's user search matches: the searchable values of a profile, as pure functions.

A profile's searchable values are its user id, its system attributes that are text (email, phone,
names, city, ...), and its custom attributes that are text or whole numbers, array elements included
(the first MAX_ARRAY_ITEMS of each array). Each becomes a *term*: the value with surrounding spaces
removed, ASCII letters lower-cased, cut to MAX_TERM characters. A query is normalized the same way and
matches every term it equals or begins (so "ann" finds "Ann", "anna@example.com" and "Annapolis").

Why ASCII-only case folding: the store's migration computes the same terms for profiles stored before
the index existed, in SQL (SQLite's `lower()` folds ASCII only; PostgreSQL uses `translate` on A-Z), and
both must agree with this module exactly. Anonymous ids are matched exactly, as sent (the identities
table already indexes them), not through terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_TERM = 100  # characters kept of a value (and of a query): a longer query matches by its first 100
MAX_ARRAY_ITEMS = 50  # elements of one array attribute that are searchable
USER_ID_FIELD = "userId"
CUSTOM_PREFIX = "attributes."

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_SAFE = 2**63 - 1


def normalize(text: str) -> str:
    """A value or query as a term: spaces trimmed, A-Z lower-cased, at most MAX_TERM characters."""
    text = text.strip(" ")
    # str.lower() folds every cased letter; on ASCII text it folds exactly A-Z, and it is much faster.
    return (text.lower() if text.isascii() else text.translate(_ASCII_LOWER))[:MAX_TERM]


def value_term(value: Any) -> str | None:
    """The term of one attribute value: text, or a whole number (JSON integer) written in decimal.
    Booleans, fractions, null, objects and arrays have none (an array's elements are taken one by one)."""
    kind = type(value)
    if kind is str:
        return normalize(value) or None
    if kind is int and -_MAX_SAFE <= value <= _MAX_SAFE:
        return str(value)
    return None


def profile_terms(user_id: str | None, system: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, str]:
    """{term: field} for a profile. When two fields give the same term the first wins, in this order:
    the user id, system attributes, custom attributes (each in key order). Never recursive: only
    top-level values and the top-level elements of arrays are looked at. (The processor runs this for
    every profile a batch writes: it is written for speed, with value_term inlined.)"""
    found: dict[str, str] = {}
    if user_id is not None and (term := normalize(user_id)):
        found[term] = USER_ID_FIELD
    for key in sorted(system):
        value = system[key]
        if type(value) is str and (term := normalize(value)) and term not in found:
            found[term] = key
    for key in sorted(attributes):
        value = attributes[key]
        items = value[:MAX_ARRAY_ITEMS] if type(value) is list else (value,)
        field = CUSTOM_PREFIX + key
        for item in items:
            kind = type(item)
            if kind is str:
                term = normalize(item)
            elif kind is int and -_MAX_SAFE <= item <= _MAX_SAFE:
                term = str(item)
            else:
                continue
            if term and term not in found:
                found[term] = field
    return found


def prefix_end(term: str) -> str:
    """The smallest string above every string that starts with `term` (in code point order, which is
    UTF-8 byte order): `term` followed by the highest code point."""
    return term + "\U0010ffff"
