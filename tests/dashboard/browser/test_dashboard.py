"""The dashboard in a real browser (Debian's chromium) against a real `openengage serve`: sign in (form and
one-time link), the overview, generate a REST key and use it over HTTP (the old one stops), generate a
Data API key, add a member, the audit log, sign out. Each page's screenshot goes to docs/screenshots/."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import expect

from tests.dashboard.browser.conftest import OWNER, DashboardServer, sign_in
from tests.support.browser import screenshot
from tests.support.server import wait_processed

pytestmark = pytest.mark.slow  # a real server and a real browser


def poll(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_the_sign_in_page(browser: Any, dashboard_server: DashboardServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(dashboard_server.base + "/")  # GET / -> /dashboard/ -> the sign-in page
    assert "/dashboard/login" in page.url
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The email or password is wrong.")).to_be_visible()
    context.close()


def test_the_first_run_link_signs_the_owner_in_once(browser: Any, dashboard_server: DashboardServer) -> None:
    link = dashboard_server.first_run["login_link"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/dashboard/accounts/.*"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    context.close()
    again = browser.new_context()
    page = again.new_page()
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("This sign-in link is not valid")).to_be_visible()
    again.close()


def test_overview(signed_in_page: Any) -> None:
    server: DashboardServer = signed_in_page.oe
    lc, key = server.first_run["license_code"], server.first_run["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.base, headers=headers) as client:
        for i in range(5):
            r = client.post(f"/v1/accounts/{lc}/events", json={"userId": f"u{i}", "eventName": "Signed Up"})
            assert r.status_code == 201
        client.post(f"/v1/accounts/{lc}/users", json={"userId": "u0", "attributes": {"we_hidden": 1}})
        wait_processed(client, lc, key)
    signed_in_page.reload()
    expect(signed_in_page.locator(".counters").get_by_text("Events")).to_be_visible()
    expect(signed_in_page.get_by_role("img", name=re.compile("per minute"))).to_be_visible()
    expect(signed_in_page.get_by_role("heading", name="Latest rejections")).to_be_visible()
    screenshot(signed_in_page, "overview")


# Submits the form twice and counts the submissions the page's script let through (then stops each).
ONCE_PROBE = """form => {
  let through = 0;
  form.addEventListener("submit", (event) => { if (!event.defaultPrevented) through++; event.preventDefault(); });
  form.requestSubmit();
  form.requestSubmit();
  return through;
}"""


def test_generate_a_key_and_use_it_over_http(signed_in_page: Any) -> None:
    server: DashboardServer = signed_in_page.oe
    lc, old = server.first_run["license_code"], server.first_run["api_key"]
    page = signed_in_page
    page.get_by_role("link", name="REST API").click()
    assert page.locator("#license-code").inner_text() == lc
    # The form goes once (data-once): a double-click's second request would be refused with a 409, and
    # the browser would show that instead of the new key. Counted here without sending anything.
    sent = page.locator("form[action$='/generate']").evaluate(ONCE_PROBE)
    assert sent == 1
    page.reload()  # a GET: nothing was sent
    page.get_by_role("button", name="Generate new key").click()
    new = page.locator(".secret input").input_value()
    assert new and new != old
    screenshot(page, "rest-api")
    server.first_run["api_key"] = new  # later tests of this session send with the current key
    url = f"{server.base}/v1/accounts/{lc}/users"
    body = {"userId": "browser-user", "firstName": "Web"}
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {new}"}).status_code == 201
    poll(lambda: httpx.post(url, json=body, headers={"Authorization": f"Bearer {old}"}).status_code == 401, 2.0)
    # A reload re-sends the form: nothing is generated, the key just shown keeps working.
    page.reload()
    expect(page.get_by_text("no key was generated")).to_be_visible()
    assert new not in page.content()  # shown once
    time.sleep(1.2)  # past the nodes' config poll: a revoked key would be refused by now
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {new}"}).status_code == 201


def test_generate_a_data_api_key(signed_in_page: Any) -> None:
    server: DashboardServer = signed_in_page.oe
    app_id, old = server.first_run["app_id"], server.first_run["data_api_key"]
    page = signed_in_page
    page.get_by_role("link", name="Data API").click()
    assert page.locator("#app-id").inner_text() == app_id
    page.get_by_role("button", name="Generate new key").click()
    new = page.locator(".secret input").input_value()
    screenshot(page, "data-api")
    server.first_run["data_api_key"] = new

    def status(key: str) -> int:
        auth = "Basic " + base64.b64encode(f"{app_id}:{key}".encode()).decode()
        body = {"type": "customer", "customer_id": "c1", "attributes": {"name": "C"}}
        return httpx.post(f"{server.base}/v1/customer/{app_id}", json=body, headers={"Authorization": auth}).status_code

    assert status(new) == 200
    poll(lambda: status(old) == 401, 2.0)


def test_add_a_member(signed_in_page: Any) -> None:
    page = signed_in_page
    page.get_by_role("link", name="Team").click()
    page.get_by_label("Email", exact=True).fill("ann@acme.test")
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Member ann@acme.test added.")).to_be_visible()
    assert page.locator(".secret input").input_value()
    row = page.get_by_role("row", name=re.compile("ann@acme.test"))
    expect(row.get_by_role("cell", name="manager", exact=True)).to_be_visible()
    screenshot(page, "team")


def test_the_audit_log(signed_in_page: Any) -> None:
    page = signed_in_page
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="key.issue").first).to_be_visible()
    expect(page.get_by_role("cell", name="127.0.0.1").first).to_be_visible()  # the client's address
    screenshot(page, "audit")


def test_sign_out(browser: Any, dashboard_server: DashboardServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, dashboard_server.base)
    overview = page.url
    cookie = next(c for c in context.cookies() if c["name"] == "openengage_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/dashboard/login.*"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(overview)
    assert "/dashboard/login" in page.url
    # the old cookie, replayed, is dead too (the session ended on the server)
    replay = httpx.get(overview, cookies={"openengage_session": cookie["value"]}, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/dashboard/login")
    context.close()


def test_no_console_errors_and_no_outside_requests(browser: Any, dashboard_server: DashboardServer) -> None:
    """CSP violations show as console errors; every request the pages make goes to the test server."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: requests.append(r.url))
    failed: list[tuple[int, str]] = []  # the URL a console's "Failed to load resource" does not name
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    sign_in(page, dashboard_server.base)
    for name in ("REST API", "Data API", "Team", "Audit log", "Overview"):
        page.get_by_role("link", name=name, exact=True).click()
        page.wait_for_load_state()
    assert failed == []
    assert errors == []
    assert all(url.startswith(dashboard_server.base) for url in requests), requests
    context.close()
