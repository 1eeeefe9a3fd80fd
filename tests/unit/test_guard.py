"""The edge's byte-level limits: nesting depth and NUL (api/guard.py)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from openengage.api.guard import MAX_DEPTH, describe, nul_path, too_deep


def depth(value: Any) -> int:
    """The reference: levels of objects and arrays, counted from the outermost value."""
    level, stack = 0, [(value, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict | list):
            level = max(level, d)
            stack.extend((child, d + 1) for child in (item.values() if isinstance(item, dict) else item))
    return level


def nested(levels: int) -> bytes:
    """`levels` levels, objects and arrays in turn, as JSON text (json.dumps would recurse)."""
    opening = "".join('{"k":' if i % 2 else "[" for i in range(levels))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(levels)))
    return (opening + "1" + closing).encode()


@pytest.mark.parametrize("levels", [0, 1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1000, 100_000])
def test_depth_at_and_around_the_limit(levels: int) -> None:
    body = nested(levels)
    if levels < 500:
        assert depth(json.loads(body)) == levels
    assert too_deep(body) == (levels > MAX_DEPTH)


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"text": "[" * 1000 + "{" * 1000, "escaped": '\\"[[[[', "quote": '"' * 70}).encode()
    assert not too_deep(body)


def test_many_shallow_brackets_are_not_deep() -> None:
    bulk = {"events": [{"userId": "u", "eventName": "e", "eventData": {"a": [1, {"b": []}]}}] * 25}
    assert not too_deep(json.dumps(bulk).encode())


def test_a_comb_without_a_long_run_of_openers() -> None:
    body = ("[[]," * (MAX_DEPTH + 5) + "1" + "]" * (MAX_DEPTH + 5)).encode()
    assert too_deep(body)


def test_agrees_with_the_reference_on_random_documents() -> None:
    rng = random.Random(3)

    def gen(levels: int) -> Any:
        if levels == 0 or rng.random() < 0.1:
            return rng.choice([1, "a[{", None, '"]}', "\\", 'x\\"[['])
        width = 1 if rng.random() < 0.8 else rng.randint(0, 3)
        if rng.random() < 0.5:
            return [gen(levels - 1) for _ in range(width)]
        return {f"{i}{{": gen(levels - 1) for i in range(width)}

    for _ in range(1500):
        value = gen(rng.randint(0, 90))
        body = json.dumps(value).encode()
        for limit in (3, 10, MAX_DEPTH):
            assert too_deep(body, limit) == (depth(value) > limit), (body[:80], limit)


@pytest.mark.parametrize(
    ("value", "root", "found", "words"),
    [
        ({"a": 1, "b": ["x", "y\x00"]}, "", ("b[1]", False), "b[1]"),
        ({"a": {"k\x00": 1}}, "eventData", ("eventData.a", True), "a name in eventData.a"),
        ({"we ird": ["\x00"]}, "attributes", ('attributes["we ird"][0]', False), 'attributes["we ird"][0]'),
        ("\x00", "", ("", False), "the body"),
        ({"\x00": 1}, "", ("", True), "a name in the body"),
        ({"first": "\x00", "second": "\x00"}, "", ("first", False), "first"),  # document order
    ],
)
def test_nul_path_names_the_field(value: Any, root: str, found: tuple[str, bool], words: str) -> None:
    assert nul_path(value, root) == found
    assert describe(*found) == words


def test_escaped_backslash_is_not_a_nul() -> None:
    assert nul_path({"text": "\\u0000"}) is None  # the six characters, not U+0000
    assert nul_path({"n": [1, 2.5, None, True, {}]}) is None
