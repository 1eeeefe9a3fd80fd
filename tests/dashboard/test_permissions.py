"""Every page x every permission preset -> 200 or 403, as DESIGN's Dashboard section says; another account's
URLs -> 404; no session -> the sign-in page. Both stores.

The table of pages is the registry itself (every GET page without a path parameter), so a page added by
another module is checked too; `DESIGN` pins the permission each of DESIGN's pages must need.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openengage import accounts as rules
from openengage.dashboard.pages import PAGES, account_url
from tests.support.dashboard import PRESETS, Visitor, preset_role
from tests.support.harness import Harness

# DESIGN §4 Dashboard: the permission each page needs (view_dashboard: every page except individual
# profiles and PII; view_profiles: user list, profiles, live events, debugger; update_integrations:
# integration pages; account_management: team).
DESIGN = {
    "": rules.VIEW_DASHBOARD,
    "users": rules.VIEW_PROFILES,
    "users/{value:anytext}": rules.VIEW_PROFILES,
    "anonymous-users/{value:anytext}": rules.VIEW_PROFILES,
    "events": rules.VIEW_PROFILES,
    "events/feed": rules.VIEW_PROFILES,
    "debugger": rules.VIEW_PROFILES,
    "requests/{value:anytext}": rules.VIEW_PROFILES,
    "events/{event_id:int}/trace": rules.VIEW_PROFILES,
    "data": rules.VIEW_DASHBOARD,
    "data-quality": rules.VIEW_DASHBOARD,
    "integrations/rest-api": rules.UPDATE_INTEGRATIONS,
    "integrations/data-api": rules.UPDATE_INTEGRATIONS,
    "team": rules.ACCOUNT_MANAGEMENT,
    "audit": rules.VIEW_DASHBOARD,
}
MINE = ["", "integrations/rest-api", "integrations/data-api", "team", "audit"]
DATA_PAGES = ["users", "users/{value:anytext}", "anonymous-users/{value:anytext}", "events", "events/feed", "data",
              "data-quality", "debugger", "requests/{value:anytext}", "events/{event_id:int}/trace"]  # fmt: skip
GET_PAGES = sorted({p.path for p in PAGES if "GET" in p.methods and "{" not in p.path})
ACTIONS = sorted({(p.path, p.permission) for p in PAGES if p.methods == ("POST",)})


def test_the_registry_holds_designs_pages_with_designs_permissions() -> None:
    registered = {p.path: p.permission for p in PAGES if "GET" in p.methods}
    assert set(MINE) <= set(registered)
    assert set(DATA_PAGES) <= set(registered)
    for path, permission in registered.items():
        if path in DESIGN:
            assert permission == DESIGN[path], path


@pytest.mark.parametrize("preset", PRESETS)
def test_every_page_for_every_preset(
    board: Harness, signed_in: Callable[[str], Visitor], anonymous: Visitor, preset: str
) -> None:
    visitor = signed_in(preset)
    _, permissions = preset_role(preset)
    got, expected = {}, {}
    for path in GET_PAGES:
        permission = next(p.permission for p in PAGES if p.path == path and "GET" in p.methods)
        expected[path] = 200 if permission in permissions else 403
        got[path] = visitor.get(account_url(board.lc, path)).status_code
    assert got == expected
    # the navigation lists exactly the pages this member may open
    home = visitor.get("/dashboard/")
    if any(code == 200 for code in got.values()):
        assert home.status_code == 303
        target = home.headers["location"]
        assert visitor.get(target).status_code == 200
    else:
        assert home.status_code == 403


@pytest.mark.parametrize("preset", PRESETS)
def test_every_action_without_its_permission_is_refused(
    board: Harness, signed_in: Callable[[str], Visitor], preset: str
) -> None:
    """A form action needs its page's permission: 403 and nothing changes (the audit log stays as it was)."""
    visitor = signed_in(preset)
    _, permissions = preset_role(preset)
    before = board.call(board.store.audit, board.creds.account_id, 100, None).items
    for path, permission in ACTIONS:
        if permission in permissions:
            continue
        r = visitor.submit(account_url(board.lc, path), {"email": "owner@acme.test", "role": "admin"})
        assert r.status_code == 403, path
    assert board.call(board.store.audit, board.creds.account_id, 100, None).items == before


def test_another_accounts_urls_answer_404_on_every_url(board: Harness, signed_in: Callable[[str], Visitor]) -> None:
    other = board.call(board.store.create_account, "other", "boss@other.test")
    admin = signed_in("admin")
    paths = [*GET_PAGES, "users/someone", "anonymous-users/x", "events/feed?after=1", "no-such-page", "team/add",
             "requests/x", "events/1/trace"]  # fmt: skip
    # Codes are matched exactly: the visitor's own code in another case is another (unknown) code. A code
    # with no hex letter has no other case, so add a letter that makes it one.
    other_case = board.lc.upper() if board.lc.upper() != board.lc else board.lc + "A"
    for lc in (other.license_code, "~00000000", "~nope", other_case):
        for path in paths:
            assert admin.get(account_url(lc, path)).status_code == 404, (lc, path)
        for path, _ in ACTIONS:  # with a valid CSRF token of the visitor's own session, still 404
            assert admin.submit(account_url(lc, path), {"email": "boss@other.test"}).status_code == 404
    # and the other account was not touched
    assert [m.email for m in board.call(board.store.list_members, other.account_id)] == ["boss@other.test"]


@pytest.mark.parametrize("preset", PRESETS)
def test_profile_pages_for_every_preset(board: Harness, signed_in: Callable[[str], Visitor], preset: str) -> None:
    """A user's and an anonymous user's profile need View Profiles (DESIGN: "individual profiles")."""
    assert board.post("/users", {"userId": "u/1", "anonymousId": "a1"}).status_code == 201
    assert board.post("/users", {"anonymousId": "a2"}).status_code == 201
    board.drain()
    visitor = signed_in(preset)
    expected = 200 if rules.VIEW_PROFILES in preset_role(preset)[1] else 403
    rid = board.post("/events", {"userId": "u/1", "eventName": "E"}).headers["x-request-id"]
    for path in ("users/u%2F1", "anonymous-users/a2", "events/feed?after=0", "users?q=u", f"requests/{rid}"):
        assert visitor.get(account_url(board.lc, path)).status_code == expected, path


def test_an_unknown_dashboard_url_is_404_when_signed_in(owner: Visitor) -> None:
    r = owner.get("/dashboard/nothing/here")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]


def test_without_a_session_every_page_redirects_to_sign_in(board: Harness, anonymous: Visitor) -> None:
    other = board.call(board.store.create_account, "other", "boss@other.test")
    for lc in (board.lc, other.license_code, "~00000000"):
        for path in [*GET_PAGES, "nowhere"]:
            r = anonymous.get(account_url(lc, path))
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/dashboard/login?next=/dashboard/accounts/")
    for path in ("/dashboard/", "/dashboard/anything"):
        assert anonymous.get(path).headers["location"].startswith("/dashboard/login")


def test_root_redirects_to_the_dashboard(anonymous: Visitor) -> None:
    r = anonymous.get("/")
    assert r.status_code in (301, 302, 303, 307, 308) and r.headers["location"] == "/dashboard/"


def test_a_removed_member_loses_the_account_at_once(board: Harness, signed_in: Callable[[str], Visitor]) -> None:
    visitor = signed_in("manager")
    url = account_url(board.lc, "")
    assert visitor.get(url).status_code == 200
    board.call(board.store.remove_member, board.creds.account_id, visitor.email)
    assert visitor.get(url).status_code == 303  # its only account gone: the session opens nothing, sign in


def test_a_removed_member_keeps_their_other_accounts(board: Harness, signed_in: Callable[[str], Visitor]) -> None:
    from tests.support.dashboard import start_session

    other = board.call(board.store.create_account, "other", "boss@other.test")
    email = "both@acme.test"
    admin = rules.ROLE_PERMISSIONS["admin"]
    here, _ = board.call(board.store.add_member, board.creds.account_id, email, "admin", admin)
    there, _ = board.call(board.store.add_member, other.account_id, email, "admin", admin)
    visitor = Visitor(board)
    start_session(board, visitor, email, [here.id, there.id])
    board.call(board.store.remove_member, board.creds.account_id, email)
    assert visitor.get(account_url(board.lc, "")).status_code == 404
    assert visitor.get(account_url(other.license_code, "")).status_code == 200


def test_a_changed_role_counts_on_the_next_request(board: Harness, signed_in: Callable[[str], Visitor]) -> None:
    visitor = signed_in("manager")
    url = account_url(board.lc, "team")
    assert visitor.get(url).status_code == 403
    board.call(board.store.set_role, board.creds.account_id, visitor.email, "admin", rules.ROLE_PERMISSIONS["admin"])
    assert visitor.get(url).status_code == 200
