"""In-process dashboard visitors: a TestClient with its own cookies on the harness's app and event loop.

`visitor(harness)` is a browser that is not signed in; `signed_in(harness, preset)` adds a team member with
that preset (admin, manager, custom, or `custom:<permission>`) and a session, the way the sign-in form
would leave it (the form itself is tested in test_sign_in.py). `csrf` is the token the pages put in forms.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from openengage import accounts as rules
from openengage.accounts import Member
from openengage.dashboard import auth
from openengage.rules.dates import now_ms
from tests.support.harness import Harness

PRESETS = ["admin", "manager", "custom", *(f"custom:{p}" for p in rules.PERMISSIONS)]
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_REPLACES_FIELD = re.compile(r'name="replaces" value="([^"]+)"')


class Visitor(TestClient):
    """A client of the harness's app sharing its event loop (so PostgreSQL pools work), with own cookies."""

    csrf: str = ""
    member: Member | None = None
    email: str = ""

    def __init__(self, harness: Harness) -> None:
        super().__init__(harness.app, follow_redirects=False)
        self.portal = harness.client.portal
        self.harness = harness

    def page_csrf(self, path: str) -> str:
        """The CSRF token of the form on `path` (as a browser would find it)."""
        r = self.get(path)
        found = _CSRF_FIELD.search(r.text)
        assert found, f"no CSRF field on {path}: {r.status_code} {r.text[:300]}"
        return found.group(1)

    def generate_form(self, page: str) -> dict[str, str]:
        """The fields of a key page's generate form as the page renders them (the key it replaces)."""
        r = self.get(page)
        found = _REPLACES_FIELD.search(r.text)
        assert found, f"no generate form on {page}: {r.status_code} {r.text[:300]}"
        return {"replaces": found.group(1)}

    def generate(self, page: str) -> Any:
        """Press a key page's Generate button: the form as the page has it, sent to `page`/generate."""
        return self.submit(page + "/generate", self.generate_form(page))

    def submit(self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None) -> Any:
        """POST a form with the session's CSRF token (or the one given; "" sends none)."""
        fields = dict(data or {})
        token = self.csrf if csrf is None else csrf
        if token:
            fields["csrf_token"] = token
        return self.post(path, data=fields)


def preset_role(preset: str) -> tuple[str, frozenset[str]]:
    role, _, permission = preset.partition(":")
    return role, rules.role_permissions(role, [permission] if permission else [])


def preset_email(preset: str) -> str:
    return preset.replace(":", ".").replace("_", "-") + "@acme.test"


def start_session(harness: Harness, visitor: Visitor, email: str, member_ids: list[int]) -> None:
    """Give `visitor` a session (what a successful sign-in does), with its CSRF token."""
    store = harness.store
    token = auth.new_token()
    digest = auth.token_hash(token)
    harness.call(store.start_session, digest, email, member_ids, now_ms() + auth.SESSION_SECONDS * 1000)
    signer = auth.Signer(harness.call(store.dashboard_secret))
    visitor.cookies.set(auth.SESSION_COOKIE, signer.cookie(token), domain="testserver.local", path="/dashboard")
    visitor.csrf = signer.csrf(digest)
    visitor.email = email


def signed_in(harness: Harness, preset: str, email: str | None = None) -> Visitor:
    """A visitor signed in as a new member of the harness's account with `preset`'s permissions."""
    role, permissions = preset_role(preset)
    email = email or preset_email(preset)
    account_id = harness.creds.account_id
    member = harness.call(lambda: harness.store.member(account_id, email))
    if member is None:
        member, _ = harness.call(lambda: harness.store.add_member(account_id, email, role, permissions))
    visitor = Visitor(harness)
    start_session(harness, visitor, email, [member.id])
    visitor.member = member
    return visitor


def owner(harness: Harness) -> Visitor:
    """A visitor signed in as the account's owner."""
    account_id = harness.creds.account_id
    member = harness.call(lambda: harness.store.member(account_id, harness.creds.owner_email))
    assert member is not None
    visitor = Visitor(harness)
    start_session(harness, visitor, member.email, [member.id])
    visitor.member = member
    return visitor
