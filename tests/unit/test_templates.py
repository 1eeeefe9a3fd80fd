"""Campaign templates: refused at save with line and reason; profile values are data, never template code."""

from __future__ import annotations

import pytest

from openengage.rules.templates import InvalidTemplate, RenderError, check, check_campaign, render, user_context


def ctx(**system: object) -> dict[str, object]:
    attributes = system.pop("attributes", {})
    token = system.pop("token", {})
    assert isinstance(attributes, dict) and isinstance(token, dict)
    return {"user": user_context("u1", dict(system), attributes), "token": token, "campaign": {"id": "~1", "name": "c"}}


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("Hello {{ user.firstName", 1, "unexpected end of template"),
        ("line one\n{% for x in %}\n{% endfor %}", 2, "Expected an expression"),
        ("a\nb\n{{ user.firstName | nosuchfilter }}", 3, "No filter named 'nosuchfilter'"),
        ("{% if user.x is nosuchtest %}{% endif %}", 1, "No test named 'nosuchtest'"),
        ("{% endfor %}", 1, "endfor"),
    ],
)
def test_a_bad_template_is_refused_with_its_line_and_reason(source: str, line: int, reason: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        check(source, "body")
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert f"body, line {line}" in str(caught.value)


def test_the_subject_is_checked_too() -> None:
    with pytest.raises(InvalidTemplate, match="subject"):
        check_campaign("{{ oops", "fine", False)


def test_the_documented_names_render() -> None:
    out = render(
        "Hi {{ user.firstName }}",
        'Plan {{ user.attributes["Plan"] }}, order {{ token.orderId }}, id {{ user.userId }}',
        False,
        ctx(firstName="Peter", attributes={"Plan": "Gold"}, token={"orderId": "ABCD1234"}),
    )
    assert (out.subject, out.body) == ("Hi Peter", "Plan Gold, order ABCD1234, id u1")


HOSTILE = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{% for %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "<script>alert(1)</script>",
    "{# comment #}",
    "x" * 200_000,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_profile_and_token_values_are_data_never_template_code(value: str) -> None:
    out = render(
        "{{ user.firstName }}",
        "{{ user.firstName }}|{{ user.attributes.bio }}|{{ token.note }}",
        False,
        ctx(firstName=value, attributes={"bio": value}, token={"note": value}),
    )
    assert out.body == f"{value}|{value}|{value}"
    assert out.subject == value.replace("\n", " ")


@pytest.mark.parametrize("value", HOSTILE)
def test_html_bodies_escape_values(value: str) -> None:
    from markupsafe import escape

    out = render("s", "<p>{{ user.firstName }}</p>", True, ctx(firstName=value))
    assert out.body == f"<p>{escape(value)}</p>"
    assert "<script>" not in out.body


def test_a_subject_is_one_line() -> None:
    out = render("Hi {{ token.name }}", "b", False, ctx(token={"name": "A\r\nBcc: victim@example.com"}))
    assert "\n" not in out.subject and "\r" not in out.subject


def test_missing_values_render_empty() -> None:
    out = render("{{ token.nothing }}", "{{ user.attributes.none.deeper }}-{{ user.lastName }}", False, ctx())
    assert (out.subject, out.body) == ("", "-")


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(RenderError, match="sandbox"):
        render("s", "{{ ''.__class__.__mro__[1].__subclasses__() }}", False, ctx())
    with pytest.raises(RenderError):
        render("s", "{{ user.attributes.update({'x': 1}) }}", False, ctx(attributes={}))


def test_output_is_capped() -> None:
    with pytest.raises(RenderError, match="longer than"):
        render("s", "{% for i in range(20000) %}{{ token.big }}{% endfor %}", False, ctx(token={"big": "x" * 100}))
