"""Browser fixtures: one real `openengage serve` per test session, Debian's chromium per test module.

- `dashboard_server`: a `Server` on a fresh SQLite store (its first run created the account); its
  `first_run` dict holds `license_code`, `api_key`, `app_id`, `data_api_key`, `login_link` (the owner's
  one-time link; test_sign_in uses it up) and `password` (the owner's, set with
  `openengage members set-password`).
- `browser`: a Chromium (tests/support/browser.py: no outside connections).
- `signed_in_page`: a fresh browser context signed in as the owner through the sign-in form, on the
  overview; `page.oe` is the server (base URL, license code, keys). Use `screenshot(page, name)` to write
  docs/screenshots/<name>.png.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, QUIET_ARGS, require_chromium
from tests.support.server import Server

OWNER = "owner@localhost"
PASSWORD = "correct horse battery staple"


class DashboardServer(Server):
    first_run: dict[str, str]


def _first_run(text: str) -> dict[str, str]:
    def after(label: str) -> str:
        return text.split(label)[1].split()[0]

    link = re.search(r"(http://\S+/dashboard/login/\S+)", text)
    assert link, text
    return {
        "license_code": after("License code:"),
        "api_key": after("REST API key:"),
        "app_id": after("MoEngage app id:"),
        "data_api_key": after("MoEngage Data key:"),
        "login_link": link.group(1),
    }


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    require_chromium()
    home = tmp_path_factory.mktemp("dashboard-server")
    server = DashboardServer(None, cwd=home)  # the README's way: the default store in the working directory
    server.start()
    try:
        server.first_run = _first_run(server.output())
        lc = server.first_run["license_code"]
        subprocess.run(
            [sys.executable, "-m", "openengage", "members", "set-password", lc, OWNER],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            cwd=home,
            capture_output=True,
            timeout=60,
        )
        server.first_run["password"] = PASSWORD
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=QUIET_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page: Any, base: str, email: str = OWNER, password: str = PASSWORD) -> None:
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/dashboard/accounts/.*"))


@pytest.fixture
def signed_in_page(browser: Any, dashboard_server: DashboardServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, dashboard_server.base)
    page.oe = dashboard_server
    try:
        yield page
    finally:
        context.close()
