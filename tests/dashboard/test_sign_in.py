"""Sign-in, sessions, one-time links, throttling, sign-out, CSRF on the sign-in forms. Both stores."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from openengage.dashboard import auth
from openengage.dashboard.pages import account_url
from openengage.rules.dates import now_ms
from tests.support.dashboard import Visitor
from tests.support.harness import Harness

PASSWORD = "s3cret enough"
OWNER = "owner@acme.test"


def set_password(board: Harness, email: str = OWNER, password: str = PASSWORD) -> None:
    board.call(board.store.set_password, board.creds.account_id, email, auth.hash_password(password))


def sign_in(visitor: Visitor, email: str = OWNER, password: str = PASSWORD, next_: str | None = None) -> object:
    path = "/dashboard/login" + (f"?next={next_}" if next_ else "")
    csrf = visitor.page_csrf(path)
    return visitor.post(path, data={"email": email, "password": password, "csrf_token": csrf})


def session_cookie(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(auth.SESSION_COOKIE + "=")]
    assert len(found) == 1, headers
    return str(found[0])


def test_the_form_has_email_password_and_sign_in(anonymous: Visitor) -> None:
    r = anonymous.get("/dashboard/login")
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    labels = {label.get_text(strip=True): label["for"] for label in soup.find_all("label")}
    assert soup.find(id=labels["Email"])["name"] == "email"
    assert soup.find(id=labels["Password"])["type"] == "password"
    assert [b.get_text(strip=True) for b in soup.find_all("button")] == ["Sign in"]


def test_signing_in_starts_a_session_with_a_safe_cookie(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    r = sign_in(anonymous)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/"
    cookie = session_cookie(r).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/dashboard" in cookie
    assert "secure" not in cookie  # plain HTTP here; behind HTTPS it is Secure (below)
    assert anonymous.get(account_url(board.lc, "")).status_code == 200
    assert anonymous.get("/dashboard/").headers["location"] == account_url(board.lc, "")


def test_the_cookie_is_secure_behind_https(board: Harness) -> None:
    set_password(board)
    visitor = Visitor(board)
    visitor.base_url = "https://testserver"  # type: ignore[assignment]
    assert "secure" in session_cookie(sign_in(visitor)).lower()


def test_next_goes_back_to_the_page_asked_for_but_never_elsewhere(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    asked = account_url(board.lc, "audit")
    first = anonymous.get(asked)
    assert first.headers["location"] == f"/dashboard/login?next={asked}"
    assert sign_in(anonymous, next_=asked).headers["location"] == asked
    for evil in ("https://evil.test/", "//evil.test/dashboard/", "/dashboard/\\evil", "/elsewhere"):
        assert sign_in(Visitor(board), next_=evil).headers["location"] == "/dashboard/"


def test_a_wrong_password_or_unknown_email_is_refused_alike(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    wrong = sign_in(anonymous, password="not the password")
    unknown = sign_in(anonymous, email="nobody@acme.test")
    no_password = sign_in(anonymous, email="mgr@acme.test")  # no such member; same for one without a password
    for r in (wrong, unknown, no_password):
        assert r.status_code == 401
        assert "The email or password is wrong." in r.text
        assert auth.SESSION_COOKIE + "=" not in r.headers.get("set-cookie", "")
    assert anonymous.get(account_url(board.lc, "")).status_code == 303


def test_sign_in_rotates_the_session(board: Harness, anonymous: Visitor) -> None:
    """A new token at every sign-in; the session the browser had before ends on every node."""
    set_password(board)
    sign_in(anonymous)
    before = anonymous.cookies.get(auth.SESSION_COOKIE)
    sign_in(anonymous)
    after = anonymous.cookies.get(auth.SESSION_COOKIE)
    assert before and after and before != after
    assert anonymous.get(account_url(board.lc, "")).status_code == 200
    stale = Visitor(board)
    stale.cookies.set(auth.SESSION_COOKIE, before, domain="testserver.local", path="/dashboard")
    assert stale.get(account_url(board.lc, "")).status_code == 303


def test_sign_out_ends_the_session_server_side(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    sign_in(anonymous)
    stolen = anonymous.cookies.get(auth.SESSION_COOKIE)
    page = anonymous.get(account_url(board.lc, ""))
    assert "Sign out" in page.text
    csrf = re.search(r'name="csrf_token" value="(\w+)"', page.text)
    assert csrf
    r = anonymous.post("/dashboard/logout", data={"csrf_token": csrf.group(1)})
    assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/login")
    assert anonymous.get(account_url(board.lc, "")).status_code == 303
    thief = Visitor(board)
    thief.cookies.set(auth.SESSION_COOKIE, stolen, domain="testserver.local", path="/dashboard")
    assert thief.get(account_url(board.lc, "")).status_code == 303


def test_sign_out_without_the_token_changes_nothing(owner: Visitor, board: Harness) -> None:
    assert owner.submit("/dashboard/logout", csrf="").status_code == 403
    assert owner.submit("/dashboard/logout", csrf="0" * 64).status_code == 403
    assert owner.get(account_url(board.lc, "")).status_code == 200


def test_sign_in_without_a_csrf_token_is_refused(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    anonymous.get("/dashboard/login")
    r = anonymous.post("/dashboard/login", data={"email": OWNER, "password": PASSWORD})
    assert r.status_code == 403
    # a token from another browser's form does not fit this browser's nonce either
    other = Visitor(board).page_csrf("/dashboard/login")
    r = anonymous.post("/dashboard/login", data={"email": OWNER, "password": PASSWORD, "csrf_token": other})
    assert r.status_code == 403
    assert anonymous.get(account_url(board.lc, "")).status_code == 303


def test_forged_or_tampered_cookies_are_refused(board: Harness, owner: Visitor) -> None:
    good = owner.cookies.get(auth.SESSION_COOKIE)
    assert good
    for forged in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "x" * 600, auth.new_token(), ""):
        visitor = Visitor(board)
        visitor.cookies.set(auth.SESSION_COOKIE, forged, domain="testserver.local", path="/dashboard")
        assert visitor.get(account_url(board.lc, "")).status_code == 303


def test_failures_are_throttled_per_email(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    for _ in range(auth.MAX_FAILURES_PER_EMAIL):
        assert sign_in(anonymous, password="guess").status_code == 401
    r = sign_in(anonymous)  # even the right password: no oracle while throttled
    assert r.status_code == 429 and "Try again later" in r.text and r.headers["retry-after"]
    assert auth.SESSION_COOKIE + "=" not in r.headers.get("set-cookie", "")
    # another email from another client is not affected
    board.call(board.store.add_member, board.creds.account_id, "ops@acme.test", "admin", auth_perms())
    set_password(board, "ops@acme.test")
    assert sign_in(Visitor(board), email="ops@acme.test").status_code == 303
    # the window passes: the store forgets old failures
    board.call(board.store.clear_sign_in_failures, "email:" + OWNER)
    assert sign_in(anonymous).status_code == 303


def auth_perms() -> frozenset[str]:
    from openengage import accounts

    return accounts.ROLE_PERMISSIONS["admin"]


def test_failures_are_throttled_per_client(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    for i in range(auth.MAX_FAILURES_PER_CLIENT):
        assert sign_in(anonymous, email=f"guess{i}@acme.test").status_code == 401
    assert sign_in(anonymous).status_code == 429


def test_throttling_holds_across_nodes(board: Harness, database_url: str) -> None:
    """Failures counted by one node count on another: they live in the store."""
    set_password(board)
    for _ in range(auth.MAX_FAILURES_PER_EMAIL):
        assert sign_in(Visitor(board), password="guess").status_code == 401
    with Harness(database_url) as second:  # another app (node) on the same store
        assert sign_in(Visitor(second)).status_code == 429


def test_a_session_from_one_node_works_on_another(board: Harness, database_url: str, owner: Visitor) -> None:
    cookie = owner.cookies.get(auth.SESSION_COOKIE)
    with Harness(database_url) as second:
        visitor = Visitor(second)
        visitor.cookies.set(auth.SESSION_COOKIE, cookie, domain="testserver.local", path="/dashboard")
        assert visitor.get(account_url(board.lc, "")).status_code == 200


# ---------------------------------------------------------------- one-time links


def make_link(board: Harness, email: str = OWNER, expires_in_ms: int = 3600_000) -> str:
    token = auth.new_token()
    board.call(
        board.store.create_login_link, board.creds.account_id, email, auth.token_hash(token), now_ms() + expires_in_ms
    )
    return f"/dashboard/login/{token}"


def use_link(visitor: Visitor, path: str) -> object:
    csrf = visitor.page_csrf(path)
    return visitor.post(path, data={"csrf_token": csrf})


def test_a_login_link_signs_in_once(board: Harness, anonymous: Visitor) -> None:
    link = make_link(board)
    for _ in range(2):  # opening it (a mail scanner, a preview) does not use it up
        assert anonymous.get(link).status_code == 200
    r = use_link(anonymous, link)
    assert r.status_code == 303
    assert anonymous.get(account_url(board.lc, "")).status_code == 200
    again = use_link(Visitor(board), link)
    assert again.status_code == 410 and "not valid" in again.text


def test_an_expired_or_unknown_link_signs_nobody_in(board: Harness, anonymous: Visitor) -> None:
    for link in (make_link(board, expires_in_ms=-1), "/dashboard/login/" + auth.new_token(), "/dashboard/login/x"):
        r = use_link(anonymous, link)
        assert r.status_code == 410
        assert anonymous.get(account_url(board.lc, "")).status_code == 303


def test_a_link_needs_the_forms_csrf_token(board: Harness, anonymous: Visitor) -> None:
    link = make_link(board)
    anonymous.get(link)
    assert anonymous.post(link, data={}).status_code == 403
    assert use_link(anonymous, link).status_code == 303  # not used up by the refused attempt


def test_a_link_signs_in_to_its_own_account_only(board: Harness, anonymous: Visitor) -> None:
    """Sessions are per membership: a link for an account opens that account, not the person's others."""
    other = board.call(board.store.create_account, "other", OWNER)
    use_link(anonymous, make_link(board))
    assert anonymous.get(account_url(board.lc, "")).status_code == 200
    assert anonymous.get(account_url(other.license_code, "")).status_code == 404


def test_a_password_opens_every_account_it_was_set_for(board: Harness, anonymous: Visitor) -> None:
    other = board.call(board.store.create_account, "other", OWNER)
    third = board.call(board.store.create_account, "third", OWNER)
    set_password(board)
    board.call(board.store.set_password, other.account_id, OWNER, auth.hash_password(PASSWORD))
    board.call(board.store.set_password, third.account_id, OWNER, auth.hash_password("a different one"))
    sign_in(anonymous)
    assert anonymous.get(account_url(board.lc, "")).status_code == 200
    page = anonymous.get(account_url(other.license_code, ""))
    assert page.status_code == 200
    switcher = BeautifulSoup(page.text, "html.parser").find("nav", attrs={"aria-label": "Accounts"})
    assert switcher is not None
    assert {a["href"] for a in switcher.find_all("a")} == {account_url(board.lc), account_url(other.license_code)}
    assert anonymous.get(account_url(third.license_code, "")).status_code == 404


def test_a_new_password_ends_the_members_sessions(board: Harness, anonymous: Visitor) -> None:
    set_password(board)
    sign_in(anonymous)
    set_password(board, password="another password")
    assert anonymous.get(account_url(board.lc, "")).status_code == 303  # the session lost its only account
    assert sign_in(anonymous).status_code == 401
    assert sign_in(anonymous, password="another password").status_code == 303


@pytest.mark.parametrize("password", ["short", "x" * (auth.MAX_PASSWORD_CHARS + 1)])
def test_unusable_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValueError):
        auth.hash_password(password)


@pytest.mark.production_password_hashing
def test_passwords_are_argon2id() -> None:
    hashed = auth.hash_password(PASSWORD)
    # RFC 9106's second recommended option (argon2-cffi's default): 64 MiB, 3 passes, 4 lanes
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in hashed
    assert auth._verify(hashed, PASSWORD) and not auth._verify(hashed, PASSWORD + "x")
