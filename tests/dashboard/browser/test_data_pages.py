"""The data pages in a real browser (Debian's chromium) against a real `openengage serve`: search users,
open a profile, watch an event arrive on the live tail without reloading, the data catalogue and data
quality. Each page's screenshot goes to docs/screenshots/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import expect

from tests.dashboard.browser.conftest import DashboardServer
from tests.support.browser import screenshot
from tests.support.server import wait_processed

pytestmark = pytest.mark.slow  # a real server and a real browser


KEYS: dict[str, str] = {}


def sender_key(server: DashboardServer) -> str:
    """The key of a sender of our own (an admin added with the CLI): other tests of the session
    generate new keys for the owner, which revokes the owner's earlier ones."""
    if "sender" not in KEYS:
        lc = server.first_run["license_code"]
        out = subprocess.run(
            [sys.executable, "-m", "openengage", "members", "add", lc, "sender@localhost", "--role", "admin", "--json"],
            cwd=server.cwd, capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        KEYS["sender"] = json.loads(out.stdout)["api_key"]
    return KEYS["sender"]


def send(server: DashboardServer, path: str, body: Any) -> None:
    lc, key = server.first_run["license_code"], sender_key(server)
    deadline = time.monotonic() + 3  # a key added by another process reaches the server within a second
    while True:
        r = httpx.post(f"{server.base}/v1/accounts/{lc}{path}", json=body, headers={"Authorization": f"Bearer {key}"})
        if r.status_code != 401 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 201, r.text


def processed(server: DashboardServer) -> None:
    lc, key = server.first_run["license_code"], sender_key(server)
    with httpx.Client(base_url=server.base) as client:
        assert wait_processed(client, lc, key)["pending"] == 0


@pytest.fixture(scope="module")
def people(dashboard_server: DashboardServer) -> DashboardServer:
    """A few users with names, emails, phones, custom attributes, an anonymous visitor who signs up,
    events, and some data the processor drops."""
    s = dashboard_server
    send(s, "/users", {"anonymousId": "visitor-7f3a", "attributes": {"Landing": "spring-sale"}})
    send(s, "/events", {"anonymousId": "visitor-7f3a", "eventName": "Viewed Product", "eventData": {"sku": "A-1"}})
    send(s, "/users", {
        "userId": "grace.h", "anonymousId": "visitor-7f3a", "firstName": "Grace", "lastName": "Hopper",
        "email": "grace@navy.example", "phone": "+12025550143", "city": "Arlington", "emailOptIn": True,
        "attributes": {"Plan": "Gold", "Seats": 12, "Tags": ["admiral", "cobol"], "Beta": True},
    })  # fmt: skip
    send(
        s,
        "/users",
        {
            "userId": "ada.l",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@engine.example",
            "smsOptIn": False,
            "phone": "+442079460000",
            "attributes": {"Plan": "Silver", "Seats": 3},
        },
    )
    for i in range(3):
        send(s, "/events", {"userId": "grace.h", "eventName": "Added To Cart",
                            "eventData": {"Product": f"Compiler {i}", "Price": 99.5 + i, "Quantity": 1}})  # fmt: skip
    send(s, "/events", {"userId": "grace.h", "eventName": "Added To Cart", "eventData": {"Price": "free"}})
    send(s, "/users", {"userId": "grace.h", "attributes": {"Seats": "many", "we_internal": 1}})
    processed(s)
    return s


def test_search_users_and_open_a_profile(signed_in_page: Any, people: DashboardServer) -> None:
    page = signed_in_page
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Search users").fill("GRACE@navy")  # a beginning of the email, any case of A-Z
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row", name=re.compile("grace.h"))
    expect(row.get_by_role("cell", name=re.compile("email: grace@navy.example"))).to_be_visible()
    screenshot(page, "users")
    page.get_by_label("Search users").fill("cobol")  # an element of an array attribute
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row", name=re.compile("attributes.Tags: cobol"))).to_be_visible()
    page.get_by_label("Search users").fill("visitor-7f3a")  # an anonymous id, now grace's
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="grace.h").click()
    page.wait_for_url(re.compile(r".*/users/grace\.h$"))
    expect(page.get_by_role("heading", name="User profile")).to_be_visible()
    for heading in ("Attributes", "Anonymous ids and merges", "Channels", "Devices", "Events", "Dropped data"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Plan\s+Gold\s+String"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Email\s+reachable"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"WhatsApp\s+not reachable"))).to_be_visible()
    expect(page.get_by_text("visitor-7f3a").first).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("type_conflict")).first).to_be_visible()  # Seats: "many"
    expect(page.get_by_role("row", name=re.compile("Viewed Product"))).to_be_visible()  # merged from the visitor
    screenshot(page, "profile")


def test_an_event_arrives_on_the_live_tail(signed_in_page: Any, people: DashboardServer) -> None:
    page = signed_in_page
    page.get_by_role("link", name="Live events").click()
    log = page.get_by_role("log")
    expect(log).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()  # the script runs (CSP allows our file)
    before = log.locator("li").count()
    send(people, "/events", {"userId": "ada.l", "eventName": "Checked Out", "eventData": {"Total": 42}})
    arrived = log.locator("li", has_text="Checked Out")
    arrived.wait_for(timeout=15_000)  # no reload: the page's script fetched it
    assert log.locator("li").count() == before + 1
    expect(arrived.get_by_role("link", name="ada.l")).to_be_visible()
    screenshot(page, "events")
    # filtered by user: only that user's events, and new ones of others do not show
    page.get_by_label("User").fill("grace.h")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role("log").locator("li", has_text="Checked Out").count() == 0
    assert page.get_by_role("log").locator("li", has_text="Added To Cart").count() == 4


def test_the_data_catalogue_and_data_quality(signed_in_page: Any, people: DashboardServer) -> None:
    page = signed_in_page
    page.get_by_role("link", name="Data", exact=True).click()
    expect(page.get_by_role("heading", name="User attributes")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^Plan\s+String"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^Added To Cart\s+\d+"))).to_be_visible()
    screenshot(page, "data")
    page.get_by_role("link", name="Data quality").click()
    expect(page.get_by_role("heading", name=re.compile("type_conflict"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("attributes.we_internal"))).to_be_visible()
    screenshot(page, "data-quality")
    page.get_by_role("row", name=re.compile(r"eventData\.Price")).get_by_role("link").click()
    expect(page.get_by_role("row", name=re.compile("free"))).to_be_visible()


def test_the_debugger_and_a_trace_from_the_live_tail(signed_in_page: Any, people: DashboardServer) -> None:
    page = signed_in_page
    lc, key = people.first_run["license_code"], sender_key(people)
    refused = httpx.post(f"{people.base}/v1/accounts/{lc}/events", content=b'{"eventName": "Signed Up"}',
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    assert refused.status_code == 400
    send(people, "/events", {"userId": "ada.l", "eventName": "Upgraded", "eventData": {"Plan": "Gold", "we_x": 1}})
    processed(people)
    page.get_by_role("link", name="Live events").click()
    row = page.get_by_role("log").locator("li", has_text="Upgraded")
    row.get_by_role("link", name="Trace").click()
    page.wait_for_url(re.compile(r".*/requests/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Request trace")).to_be_visible()
    for heading in ("Profiles", "Events stored", "Dropped and truncated"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"lag \d+ ms"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("reserved_prefix"))).to_be_visible()
    expect(page.get_by_role("link", name="ada.l")).to_be_visible()
    screenshot(page, "trace")
    page.get_by_role("link", name="Debugger", exact=True).first.click()
    deadline = time.monotonic() + 10  # refusals are written once a second, off the request's path
    while not page.get_by_role("row", name=re.compile(r"400")).count():
        assert time.monotonic() < deadline
        page.reload()
    expect(page.get_by_role("row", name=re.compile(r"400.*userId")).first).to_be_visible()
    accepted = page.get_by_role("row", name=re.compile(r"201")).first
    expect(accepted.get_by_role("link", name="Trace")).to_be_visible()
    screenshot(page, "debugger")
    accepted.get_by_role("link", name="Trace").click()
    expect(page.get_by_role("heading", name="Request trace")).to_be_visible()
