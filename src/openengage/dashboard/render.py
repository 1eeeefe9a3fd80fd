"""HTML responses: the Jinja2 environment (autoescape on everywhere), filters, and the security headers
every dashboard response carries.

Content-Security-Policy: scripts and styles only from our own `/dashboard/static/` files, so no inline
script, event handler attribute or `style` attribute can run or apply, whatever a client managed to put
in a value; no frames, plugins, `<base>` or foreign form targets. Pages are never cached (a key shown
once must not come back from a cache) and send no Referer (a sign-in link's token is in its path).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def when(ms: int | None) -> str:
    """Epoch milliseconds as `2026-11-30 19:15:02 UTC` (the dashboard's one time format)."""
    if ms is None:
        return "never"
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def shorten(value: Any, limit: int = 200) -> str:
    """A value as text, cut to `limit` characters with a visible ellipsis (the page stays readable)."""
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, int | float) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("openengage.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["shorten"] = shorten
    return env


templates = _environment()


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def html(template: str, status: int = 200, **values: Any) -> Response:
    """Render `template` with `values` into a response with the security headers."""
    body = templates.get_template(template).render(**values)
    return secure(HTMLResponse(body, status_code=status))
