"""`?format=xml` output is well-formed XML 1.0 for every value, checked with a real parser (expat)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from openengage.api.xml import to_xml

CONTROL = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")


def parse(value: Any) -> ET.Element:
    return ET.fromstring(to_xml("response", value))


def test_control_characters_become_the_replacement_character() -> None:
    root = parse({"value": f"a{CONTROL}b\ufffe\uffffc"})
    assert root.findtext("value") == "a" + "\ufffd" * len(CONTROL) + "b" + "\ufffd" * 2 + "c"


def test_whitespace_survives_the_parser() -> None:
    root = parse({"value": "tab\tnl\ncr\rcrlf\r\n", "with space": "x"})
    assert root.findtext("value") == "tab\tnl\ncr\rcrlf\r\n"


def test_keys_that_are_not_xml_names_keep_their_text() -> None:
    key = "a b\t\n\r<&>\"'\x01"
    entry = parse({key: 1}).find("entry")
    assert entry is not None
    assert entry.get("key") == "a b\t\n\r<&>\"'\ufffd"
    assert entry.text == "1"


def test_astral_characters_and_markup_round_trip() -> None:
    text = "😀 <b>&amp;</b> ]]> \u00e9"
    assert parse({"value": text}).findtext("value") == text


def test_shape_is_unchanged() -> None:
    assert to_xml("response", {"status": "queued"}) == (
        b'<?xml version="1.0" encoding="UTF-8"?><response><status>queued</status></response>'
    )
    body = {"data": {"list": [1, None, True, "x"], "empty": {}, "n": 1.5}}
    assert to_xml("response", body) == (
        b'<?xml version="1.0" encoding="UTF-8"?><response><data><list><item>1</item><item null="true"/>'
        b"<item>true</item><item>x</item></list><empty></empty><n>1.5</n></data></response>"
    )


@pytest.mark.parametrize("levels", [600, 100_000])
def test_any_depth_serialises(levels: int) -> None:
    """It recursed once per level: about 600 levels raised RecursionError (a 500)."""
    value: Any = "leaf"
    for _ in range(levels):
        value = {"a": [value]}
    out = to_xml("response", value)
    assert out.count(b"<item>") == levels
    if levels < 10_000:  # expat has its own limits; the shape is what counts here
        ET.fromstring(out)
