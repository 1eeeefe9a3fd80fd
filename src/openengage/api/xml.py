"""A small JSON-to-XML serialiser for the WebEngage `?format=xml` option (undocumented by the vendor).

Objects become elements named by their keys; a key that is not a valid XML name (attribute names may
hold spaces) becomes `<entry key="...">`. Lists become repeated `<item>` elements; null an empty
element with `null="true"`. Everything is escaped.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _open_close(key: str) -> tuple[str, str]:
    if _NAME.fullmatch(key) and not key.lower().startswith("xml"):
        return f"<{key}", f"</{key}>"
    return f"<entry key={quoteattr(key)}", "</entry>"


def _value(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _element(str(key), item, out)
    elif isinstance(value, list):
        for item in value:
            _element("item", item, out)
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    else:
        out.append(escape(str(value)))


def _element(key: str, value: Any, out: list[str]) -> None:
    start, end = _open_close(key)
    if value is None:
        out.append(start + ' null="true"/>')
        return
    out.append(start + ">")
    _value(value, out)
    out.append(end)


def to_xml(root: str, value: Any) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _element(root, value, out)
    return "".join(out).encode("utf-8")
