"""What no ingest endpoint lets through, in either dialect: JSON nested too deeply, and the NUL character.

- Nesting: a body may nest objects and arrays at most MAX_DEPTH levels, counted from its outermost
  value (`{"a":[{}]}` is 3 levels). No real client comes near it; without a bound msgspec's recursive
  decoder raises RecursionError (a 500) at about 1,000 levels, and every layer after the edge (rules,
  stores, XML output) would have to be written for unbounded depth.
- Numbers msgspec cannot decode (past a double's range): the decoders refuse them, but a value the
  events fast path leaves undecoded would reach the processor, so `big_numbers` tells it to look closer.
- NUL (U+0000): PostgreSQL text and jsonb cannot hold it, so it is refused in every id, name and
  value at any depth, on SQLite too: the contract does not depend on the store. JSON can only carry it
  as the escape `\\u0000` (a raw NUL byte is malformed JSON), so a body without those six bytes holds
  none, which one C-speed scan tells.

Both checks start with a scan of the bytes whose cost is a couple of passes at memchr speed; only a
body that fails the cheap test gets the closer look.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

MAX_DEPTH = 64
NUL_ESCAPE = b"\\u0000"
NUL_TEXT = "the NUL character (\\u0000), which cannot be stored"

# A JSON string, escapes included (unrolled: one fast character-class loop per run of plain bytes).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Digits -> "0", e/E -> "e", "+" and "-" kept, anything else -> " ": the shape of the numbers in a body.
_NUMBER_SHAPE = bytes(
    ord("0") if 0x30 <= b <= 0x39 else ord("e") if b in b"eE" else b if b in b"+-" else ord(" ") for b in range(256)
)
# A number of magnitude past 1.8e308 (what a double holds; msgspec refuses it, and integers past 4,300
# digits) needs an exponent of 3 digits or 209+ digits of mantissa before the point (see big_numbers).
_LONG_MANTISSA = b"0" * 200
_encode = msgspec.json.encode


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON in `body` nests objects and arrays more than `limit` levels deep.

    Malformed JSON may answer either way; the decoder then reports it. Cost: two counts when the body
    has at most `limit` brackets (nearly every request). Otherwise the bracket skeleton (strings and
    scalars removed, in C) is reduced by deleting innermost pairs, one level per pass, at most `limit`
    passes over a skeleton that shrinks each time; a typical body is done in a few passes.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    skeleton = _STRING.sub(b"", body).translate(_SQUARE, _NOT_BRACKET)
    if b"[" * (limit + 1) in skeleton:  # the usual attack: one long run of openers
        return True
    for _ in range(limit):
        reduced = skeleton.replace(b"[]", b"")
        if len(reduced) == len(skeleton):  # nothing left to pair: empty, or unbalanced (malformed)
            return False
        skeleton = reduced
    return b"[]" in skeleton  # a pair left after `limit` passes sits more than `limit` levels deep


def big_numbers(body: bytes) -> bool:
    """True when `body` may hold a number msgspec cannot decode (past a double's range, or an integer of
    more than 4,300 digits); False means it surely holds none.

    The decoders refuse such a number, but skipping a value left undecoded (msgspec.Raw) does not: the
    events fast path asks this before it writes one, so the processor never meets it. Text that looks
    like a big number inside a string (`"A1E100"`) answers True too: the slow path then decides.
    Cost: one translate and three substring searches, all in C.
    """
    shape = body.translate(_NUMBER_SHAPE)
    return b"0e000" in shape or b"0e+000" in shape or _LONG_MANTISSA in shape


def _child(path: str, key: str) -> str:
    if _NAME.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_encode(key).decode()}]"


def nul_path(value: Any, root: str = "") -> tuple[str, bool] | None:
    """Where `value` first holds U+0000 (in document order), else None.

    (path, in_name): the path of the string that holds it (`attributes.city`, `eventData.items[2]`,
    under `root`; "" is `value` itself), or of the object one of whose names holds it. A value
    without NUL costs one msgspec encode and a scan.
    """
    if NUL_ESCAPE not in _encode(value):
        return None
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path, False
        elif isinstance(item, dict):
            if any("\x00" in key for key in item):
                return path, True
            stack.extend((_child(path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))
    return None  # the six bytes were an escaped backslash followed by "u0000", not a NUL


def describe(path: str, in_name: bool) -> str:
    """`nul_path`'s answer in words: `attributes.city`, `a name in attributes`, `the body`."""
    where = path or "the body"
    return f"a name in {where}" if in_name else where
