"""Declaring dashboard pages: `@page(path, permission)` and the `Context` a page function gets.

A page is an async function `(ctx: Context) -> Response` registered under
`/dashboard/accounts/{licenseCode}/<path>`. Before it runs, the dashboard has already:
- redirected a request without a session to `/dashboard/login`;
- answered 404 when the session's person is not a member of that account (unknown codes alike);
- answered 403 when the member lacks `permission`;
- for POST: refused (403) a request whose CSRF token is missing or wrong, and parsed the form.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openengage import accounts as rules
from openengage.accounts import Actor, Member
from openengage.dashboard.render import html, secure
from openengage.store.base import Membership, Session, Store

Handler = Callable[["Context"], Awaitable[Response]]

# The pages of DESIGN's table, in its order: navigation lists those registered, in this order.
NAV_ORDER = (
    "",
    "users",
    "events",
    "debugger",
    "data",
    "data-quality",
    "business-events",  # #10: not in DESIGN's table; after the data pages
    "integrations/rest-api",
    "integrations/data-api",
    "integrations/channels",
    "campaigns",
    "team",
    "audit",
)


@dataclasses.dataclass(frozen=True)
class Page:
    path: str  # relative to /dashboard/accounts/{licenseCode}/; Starlette path syntax ("users/{user_id:path}")
    permission: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    nav: str | None = None  # the navigation label, for pages listed in NAV_ORDER


PAGES: list[Page] = []


def page(path: str, permission: str, *, nav: str | None = None, methods: Sequence[str] = ("GET",)) -> Callable[
    [Handler], Handler
]:  # fmt: skip
    """Register `fn` as the page (or form action, with methods=("POST",)) at `path`, needing `permission`."""
    if permission not in rules.PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def register(fn: Handler) -> Handler:
        PAGES.append(Page(path, permission, fn, tuple(m.upper() for m in methods), nav))
        return fn

    return register


def account_url(license_code: str, path: str = "") -> str:
    """`/dashboard/accounts/{licenseCode}/{path}` (the license code as issued: `~` stays as it is)."""
    return f"/dashboard/accounts/{quote(license_code, safe='~')}/{path}"


@dataclasses.dataclass
class Context:
    """What a page function works with: the request, the store, who is signed in and where."""

    request: Request
    store: Store
    session: Session
    membership: Membership  # the account open, and the member acting in it
    csrf_token: str  # put it in every form: {{ csrf_field() }} in templates
    form: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # POST fields, CSRF already checked
    # What app.py hands the dashboard from parts it may not import (layers): "send_test" (messaging)
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def member(self) -> Member:
        return self.membership.member

    @property
    def account_id(self) -> int:
        return self.membership.member.account_id

    @property
    def license_code(self) -> str:
        return self.membership.license_code

    def can(self, permission: str) -> bool:
        return permission in self.member.permissions

    @property
    def client(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    @property
    def actor(self) -> Actor:
        """The signed-in member acting from the client's address: what admin calls take, for the audit log."""
        return Actor.for_member(self.member.email, self.client)

    def url(self, path: str = "", **query: Any) -> str:
        """A URL of this account's dashboard, with an optional query string."""
        url = account_url(self.license_code, path)
        return f"{url}?{urlencode(query)}" if query else url

    def field(self, name: str, default: str = "") -> str:
        """A form field's first value."""
        values = self.form.get(name)
        return values[0] if values else default

    def nav(self) -> list[dict[str, Any]]:
        """The navigation entries this member may open, in DESIGN's order; `current` marks this page."""
        here = self.request.url.path
        entries = []
        for path in NAV_ORDER:
            found = next((p for p in PAGES if p.path == path and p.nav and "GET" in p.methods), None)
            if found is not None and self.can(found.permission):
                url = self.url(path)
                current = here == url or (path != "" and here.startswith(url + "/"))
                entries.append({"label": found.nav, "url": url, "current": current})
        return entries

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """Render a page template (which extends base.html) with the layout's values and `values`."""
        return html(
            template,
            status,
            ctx=self,
            title=values.pop("title", ""),
            signed_in=self.session.email,
            memberships=self.session.memberships,
            account=self.membership,
            nav=self.nav(),
            csrf_token=self.csrf_token,
            notice=values.pop("notice", None),
            error=values.pop("error", None),
            **values,
        )

    def redirect(self, path: str = "", **query: Any) -> Response:
        """303 See Other to a page of this account (after a form action)."""
        return secure(RedirectResponse(self.url(path, **query), status_code=303))
