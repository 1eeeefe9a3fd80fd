"""A small JSON-to-XML serialiser for the WebEngage `?format=xml` option (undocumented by the vendor).

Objects become elements named by their keys; a key that is not a valid XML name (attribute names may
hold spaces) becomes `<entry key="...">`. Lists become repeated `<item>` elements; null an empty
element with `null="true"`. Everything is escaped.

The output is always well-formed XML 1.0, whatever a client stored:
- a character XML 1.0 cannot hold in any form (the control characters other than tab, newline and
  carriage return, U+FFFE, U+FFFF, lone surrogates) becomes U+FFFD, the replacement character; JSON,
  the default format, carries every value exactly;
- a carriage return is written `&#13;` (a parser would otherwise read it as a newline), and tab,
  newline and carriage return in a `key` attribute as character references (a parser would read them
  as spaces).
The serialiser walks the value with an explicit stack: no nesting depth can exhaust Python's.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ENTITIES = {"\r": "&#13;"}
_REPLACEMENT = "\ufffd"


def _text(value: str) -> str:
    return escape(_NOT_XML.sub(_REPLACEMENT, value), _TEXT_ENTITIES)


def _open_close(key: str) -> tuple[str, str]:
    if _NAME.fullmatch(key) and not key.lower().startswith("xml"):
        return f"<{key}", f"</{key}>"
    return f"<entry key={quoteattr(_NOT_XML.sub(_REPLACEMENT, key))}", "</entry>"


def to_xml(root: str, value: Any) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    # Work items: (element name, value) to open, or a closing tag (str) to write.
    stack: list[tuple[str, Any] | str] = [(root, value)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        key, node = item
        start, end = _open_close(key)
        if node is None:
            out.append(start + ' null="true"/>')
        elif isinstance(node, dict):
            out.append(start + ">")
            stack.append(end)
            stack.extend((str(k), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            out.append(start + ">")
            stack.append(end)
            stack.extend(("item", v) for v in reversed(node))
        elif isinstance(node, bool):
            out.append(f"{start}>{'true' if node else 'false'}{end}")
        else:
            out.append(f"{start}>{_text(str(node))}{end}")
    return "".join(out).encode("utf-8")
