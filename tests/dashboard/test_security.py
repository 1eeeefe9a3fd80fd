"""What a client sent is inert text on every page; pages carry the CSP and friends; a refused CSRF check
changes nothing. Both stores."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup

from openengage.dashboard.pages import PAGES, account_url
from openengage.dashboard.render import CSP
from tests.support.dashboard import Visitor
from tests.support.harness import Harness

HOSTILE_ID = '<script>alert("id")</script>\u202eevil'
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_EVENT = '"><svg onload=alert(2)>'
HOSTILE_VALUE = "</td></tr></table><script>alert(3)</script>" + "\u202e" + "v" * 999
GET_PAGES = sorted({p.path for p in PAGES if "GET" in p.methods and "{" not in p.path})


def inert(html: str, *, allowed_scripts: tuple[str, ...] = ("/dashboard/static/",)) -> BeautifulSoup:
    """Assert the page runs nothing but our own script files and carries no inline style or handler."""
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        assert script.get("src", "").startswith(allowed_scripts), script
        assert not script.get_text(strip=True), script
    for tag in soup.find_all(True):
        for attribute, value in tag.attrs.items():
            assert not attribute.lower().startswith("on"), (tag.name, attribute, value)
            assert attribute.lower() != "style", tag.name
            if attribute in ("href", "src", "action"):
                assert not str(value).strip().lower().startswith(("javascript:", "data:")), value
    for img in soup.find_all(["img", "svg", "iframe", "object", "embed"]):
        assert img.name == "svg" and img.get("role") == "img", img  # only our charts
    return soup


def feed_hostile_data(board: Harness) -> None:
    user = {"userId": HOSTILE_ID, "attributes": {HOSTILE_NAME: HOSTILE_VALUE + "more than 999"}}
    assert board.post("/users", user).status_code == 201
    assert board.post("/users", {"userId": HOSTILE_ID, "attributes": {HOSTILE_NAME: 12}}).status_code == 201
    event = {"userId": HOSTILE_ID, "eventName": HOSTILE_EVENT, "eventData": {HOSTILE_NAME: HOSTILE_VALUE + "x"}}
    assert board.post("/events", event).status_code == 201
    board.drain()


def test_every_page_sends_the_security_headers(board: Harness, owner: Visitor, anonymous: Visitor) -> None:
    responses = [owner.get(account_url(board.lc, p)) for p in GET_PAGES]
    responses += [anonymous.get("/dashboard/login"), owner.get("/dashboard/nowhere"), anonymous.get("/dashboard/")]
    responses.append(owner.submit(account_url(board.lc, "team/add"), csrf=""))
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert csp == CSP and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_no_page_has_inline_script_handlers_or_styles(board: Harness, owner: Visitor, anonymous: Visitor) -> None:
    feed_hostile_data(board)
    owner.generate(account_url(board.lc, "integrations/rest-api"))
    for path in GET_PAGES:
        r = owner.get(account_url(board.lc, path))
        assert r.status_code == 200, path
        inert(r.text)
    inert(anonymous.get("/dashboard/login").text)
    inert(owner.generate(account_url(board.lc, "integrations/rest-api")).text)
    inert(owner.submit(account_url(board.lc, "team/add"), {"email": "n@acme.test", "role": "manager"}).text)


def test_hostile_ids_names_and_values_render_as_text(board: Harness, owner: Visitor) -> None:
    feed_hostile_data(board)
    page = owner.get(account_url(board.lc, ""))
    soup = inert(page.text)
    text = soup.get_text()
    assert HOSTILE_ID in text and HOSTILE_NAME in text
    assert HOSTILE_VALUE[:60] in text  # shown shortened, as text
    # the markup never reached the HTML as markup
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    # each client value sits in its own direction-isolated element: an RTL mark cannot flip the row
    assert any(HOSTILE_ID in b.get_text() for b in soup.find_all("bdi"))


def test_a_hostile_account_name_is_text(board: Harness, owner: Visitor) -> None:
    other = board.call(board.store.create_account, HOSTILE_NAME + HOSTILE_ID, board.creds.owner_email)
    from tests.support.dashboard import start_session

    member = board.call(board.store.member, other.account_id, board.creds.owner_email)
    visitor = Visitor(board)
    start_session(board, visitor, board.creds.owner_email, [owner.member.id, member.id])  # type: ignore[union-attr]
    for lc in (board.lc, other.license_code):
        soup = inert(visitor.get(account_url(lc, "")).text)
        assert HOSTILE_NAME + HOSTILE_ID in soup.get_text()


def test_static_files_are_served_and_are_ours(anonymous: Visitor) -> None:
    js = anonymous.get("/dashboard/static/dashboard.js")
    css = anonymous.get("/dashboard/static/dashboard.css")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    for text in (js.text, css.text):  # nothing loaded from elsewhere: no CDN, no font service
        assert "http:" not in text and "https:" not in text and "@import" not in text


def test_every_page_names_the_favicon_and_it_is_served(board: Harness, owner: Visitor, anonymous: Visitor) -> None:
    """Without a named icon browsers ask for /favicon.ico, a 404 on every first visit."""
    for page in (anonymous.get("/dashboard/login"), owner.get(account_url(board.lc, ""))):
        icon = BeautifulSoup(page.text, "html.parser").select_one('link[rel="icon"]')
        assert icon is not None and icon["href"] == "/dashboard/static/favicon.svg"
    svg = anonymous.get("/dashboard/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in svg.text and "http:" not in svg.text.replace("http://www.w3.org/2000/svg", "")


# ---------------------------------------------------------------- CSRF: refusals change nothing


def snapshot(board: Harness) -> Any:
    account_id = board.creds.account_id
    members = board.call(board.store.list_members, account_id)
    keys = board.call(board.store.list_keys, account_id)
    account = board.call(board.store.account_by_license, board.lc)
    audit = board.call(board.store.audit, account_id, 100, None).items
    return members, keys, account, audit


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("team/add", {"email": "new@acme.test", "role": "admin"}),
        ("team/role", {"email": "mgr@acme.test", "role": "admin"}),
        ("team/remove", {"email": "mgr@acme.test"}),
        ("team/revoke-key", {"email": "mgr@acme.test"}),
        ("integrations/rest-api/generate", {}),
        ("integrations/data-api/generate", {}),
    ],
)
def test_a_post_without_a_valid_csrf_token_changes_nothing(
    board: Harness, owner: Visitor, path: str, form: dict[str, str]
) -> None:
    board.call(board.store.add_member, board.creds.account_id, "mgr@acme.test", "manager", _manager())
    if path.endswith("/generate"):  # the key it replaces, as the page's form has it
        form = owner.generate_form(account_url(board.lc, path.removesuffix("/generate")))
    before = snapshot(board)
    other_session = Visitor(board)
    from tests.support.dashboard import start_session

    start_session(board, other_session, owner.email, [owner.member.id])  # type: ignore[union-attr]
    url = account_url(board.lc, path)
    for csrf in ("", "0" * 64, other_session.csrf, owner.csrf[:-1]):
        r = owner.submit(url, form, csrf=csrf)
        assert r.status_code == 403, csrf
    # a token in the query string or a JSON body does not count either
    assert owner.post(url + f"?csrf_token={owner.csrf}", data=form).status_code == 403
    assert owner.post(url, json={**form, "csrf_token": owner.csrf}).status_code == 403
    assert snapshot(board) == before
    # the same form with the token works (the refusals were about the token)
    assert owner.submit(url, form).status_code in (200, 303)


def _manager() -> frozenset[str]:
    from openengage import accounts

    return accounts.ROLE_PERMISSIONS["manager"]
