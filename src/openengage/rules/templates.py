"""Campaign templates: Jinja2's sandbox, checked when a campaign is saved, rendered by the sender (pure).

A template sees three names: `user` (the profile: `userId`, the WebEngage system attributes such as
`firstName` and `email`, and `attributes`, the custom ones), `token` (the transaction's
`overrideData.context.token`) and `campaign` (`id`, `name`). Templates are written by the account's team;
profile and token values are data: they are inserted into the output and never parsed as template code,
so a first name of `{{ 7*7 }}` is sent as those eight characters.

- The environment is Jinja2's `ImmutableSandboxedEnvironment`: no access to Python internals
  (`__class__`, `mro`, ...), no mutation of the values passed in, `range` capped.
- HTML bodies are autoescaped (a first name `<script>` arrives as `&lt;script&gt;`); plain-text bodies
  and subjects are not. Subjects become one line: line breaks turn into spaces (no header injection).
- A missing value renders as nothing (`{{ token.orderId }}` without an orderId is empty), attribute
  access on a missing value too (`ChainableUndefined`), so a sparse profile never fails a send.
- Output is capped at MAX_OUTPUT characters: a template cannot turn one send into a memory bomb.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from openengage.errors import OpenEngageError

MAX_SOURCE = 100_000  # characters of one template
MAX_OUTPUT = 1_000_000  # characters of one rendered body


class InvalidTemplate(OpenEngageError):
    """A template that cannot be used: where (`part`, `line`) and why (`reason`)."""

    def __init__(self, part: str, line: int | None, reason: str) -> None:
        where = f"{part}, line {line}" if line else part
        super().__init__(f"template error in the {where}: {reason}")
        self.part = part
        self.line = line
        self.reason = reason


class RenderError(OpenEngageError):
    """A template failed while rendering (the message says why; no profile value is included)."""


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: bool


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape, undefined=ChainableUndefined, keep_trailing_newline=True, auto_reload=False
    )


_PLAIN = _environment(False)
_HTML = _environment(True)


def is_html(filename: str) -> bool:
    """A body file named *.html or *.htm is HTML (autoescaped); anything else is plain text."""
    return filename.lower().endswith((".html", ".htm"))


def check(source: str, part: str, html: bool = False) -> None:
    """InvalidTemplate unless `source` compiles: syntax, unknown filters and tests, size."""
    if len(source) > MAX_SOURCE:
        raise InvalidTemplate(part, None, f"longer than {MAX_SOURCE} characters")
    if "\x00" in source:
        raise InvalidTemplate(part, None, "contains the NUL character")
    env = _HTML if html else _PLAIN
    try:
        tree = env.parse(source)
        env.from_string(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplate(part, exc.lineno, exc.message or "syntax error") from None
    except TemplateError as exc:  # pragma: no cover - compile errors are TemplateSyntaxError
        raise InvalidTemplate(part, None, str(exc)) from None
    # Jinja2 resolves a test inside `{% if %}` only when it runs: refuse unknown ones now, with filters.
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        known = env.filters if isinstance(node, nodes.Filter) else env.tests
        if node.name not in known:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            raise InvalidTemplate(part, node.lineno, f"No {kind} named '{node.name}'.")


def check_campaign(subject: str, body: str, html: bool) -> None:
    check(subject, "subject")
    check(body, "body", html)


@functools.lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Template:
    """A campaign's templates never change once saved: compile each once (compiling costs a millisecond)."""
    return (_HTML if html else _PLAIN).from_string(source)


def _render(source: str, html: bool, context: dict[str, Any]) -> str:
    try:
        out = _compiled(source, html).render(context)
    except SecurityError as exc:
        raise RenderError(f"the template tried something the sandbox forbids: {exc}") from None
    except TemplateError as exc:
        raise RenderError(f"the template failed: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise RenderError(f"the template failed: {type(exc).__name__}") from None
    if len(out) > MAX_OUTPUT:
        raise RenderError(f"the rendered text is longer than {MAX_OUTPUT} characters")
    return out


def render(subject: str, body: str, html: bool, context: dict[str, Any]) -> Rendered:
    """The subject (one line, never escaped) and the body of a message for `context`."""
    line = " ".join(_render(subject, False, context).splitlines()).strip()
    return Rendered(line, _render(body, html, context), html)


def user_context(user_id: str, system: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """What `{{ user.… }}` sees: the id, the system attributes by their WebEngage names, `attributes`."""
    return {**system, "userId": user_id, "attributes": attributes}
