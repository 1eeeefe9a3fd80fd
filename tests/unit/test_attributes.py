from __future__ import annotations

from typing import Any

import pytest

from openengage.rules import attributes as a


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("31", a.STRING),
        ("@origjohndoe86", a.STRING),
        (461.93, a.NUMBER),
        (78732, a.NUMBER),
        (True, a.BOOLEAN),
        (False, a.BOOLEAN),
        ("2020-05-31T00:00:00Z", a.DATE),
        ("1986-08-19T15:45:00-0800", a.DATE),
        ([1, 2], a.ARRAY),
        ({"k": "v"}, a.OBJECT),
        (None, None),
    ],
)
def test_value_type(value: Any, expected: str | None) -> None:
    assert a.value_type(value) == expected


def test_names_must_be_less_than_50_characters() -> None:
    assert a.name_issue("f", "x" * 49) is None
    issue = a.name_issue("f", "x" * 50)
    assert issue is not None and issue.reason == a.R_NAME_TOO_LONG


def test_we_prefix_is_reserved_and_case_sensitive() -> None:
    issue = a.name_issue("f", "we_plan")
    assert issue is not None and issue.reason == a.R_RESERVED_PREFIX
    assert a.name_issue("f", "WE_plan") is None
    assert a.name_issue("f", "web") is None


def test_empty_name() -> None:
    issue = a.name_issue("f", "")
    assert issue is not None and issue.reason == a.R_EMPTY_NAME


def test_strings_over_999_characters_are_truncated() -> None:
    kept, issue = a.truncate("f", "x" * 999)
    assert kept == "x" * 999 and issue is None
    kept, issue = a.truncate("f", "y" * 1500)
    assert kept == "y" * 999
    assert issue is not None and issue.reason == a.R_TRUNCATED and issue.dropped is False


def test_first_value_locks_the_type() -> None:
    schema = a.Schema()
    assert schema.admit("f", "plan", a.STRING, "gold") is None
    conflict = schema.admit("f", "plan", a.NUMBER, 3)
    assert conflict is not None and conflict.reason == a.R_TYPE_CONFLICT
    assert schema.types == {"plan": a.STRING}


def test_date_strings_fit_a_string_attribute_but_not_the_reverse() -> None:
    schema = a.Schema({"s": a.STRING, "d": a.DATE})
    assert schema.admit("f", "s", a.DATE, "2020-01-01") is None
    issue = schema.admit("f", "d", a.STRING, "soon")
    assert issue is not None and issue.reason == a.R_TYPE_CONFLICT


def test_at_most_25_attributes_of_each_type() -> None:
    schema = a.Schema({f"n{i}": a.NUMBER for i in range(25)})
    issue = schema.admit("f", "n25", a.NUMBER, 1)
    assert issue is not None and issue.reason == a.R_TYPE_LIMIT
    assert schema.admit("f", "s0", a.STRING, "x") is None  # other types still have room
    assert schema.admit("f", "n3", a.NUMBER, 9) is None  # existing names still take values


def test_clean_attributes_applies_every_rule_and_reports_each_drop() -> None:
    schema = a.Schema({"locked": a.NUMBER})
    kept, issues = a.clean_attributes(
        "attributes",
        {"ok": "v", "we_x": 1, "locked": "text", "nothing": None, "long": "z" * 1200, "n" * 50: 1},
        schema,
        at=7,
    )
    assert kept == {"ok": "v", "long": "z" * 999}
    reasons = {i.field: i.reason for i in issues}
    assert reasons == {
        "attributes.we_x": a.R_RESERVED_PREFIX,
        "attributes.locked": a.R_TYPE_CONFLICT,
        "attributes.nothing": a.R_NULL_VALUE,
        "attributes.long": a.R_TRUNCATED,
        "attributes." + "n" * 50: a.R_NAME_TOO_LONG,
    }
    assert schema.added == {"ok": (a.STRING, 7), "long": (a.STRING, 7)}


def test_array_helpers_and_unset_rules() -> None:
    assert a.add_values(["a"], ["a", "b"]) == ["a", "b"]
    assert a.add_values(None, ["x"]) == ["x"]
    assert a.remove_values(["a", "b", "c"], ["b"]) == ["a", "c"]
    assert a.unset_matches("temp_x", "prefix", "temp_", True)
    assert a.unset_matches("First_Name", "equals", "first_name", False)
    assert not a.unset_matches("First_Name", "equals", "first_name", True)
    assert a.unset_matches("my_temp", "suffix", "temp", True)
    assert a.unset_matches("a_temp_b", "contains", "temp", True)
