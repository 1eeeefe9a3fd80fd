"""The debugger and the request trace pages (in-process, both stores): permissions for every preset, links
from the live tail and the profile timeline, another account's ids, hostile values rendered inert."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from openengage import accounts as rules
from openengage.dashboard.pages import account_url
from tests.dashboard.test_security import inert
from tests.support.dashboard import PRESETS, Visitor, preset_role
from tests.support.harness import Harness

pytestmark = pytest.mark.timeout(180)

HOSTILE_ID = '<script>alert("id")</script>\u202eevil/../x\nline'
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_REQUEST = '"><svg onload=alert(9)>/..'
HOSTILE_VALUE = "</td></tr></table><script>alert(3)</script>\u202e" + "v" * 990


def flush(board: Harness) -> None:
    board.call(board.app.state.services.refusals.flush)


def url(board: Harness, path: str) -> str:
    return account_url(board.lc, path)


@pytest.mark.parametrize("preset", PRESETS)
def test_trace_pages_for_every_preset(board: Harness, signed_in: Callable[[str], Visitor], preset: str) -> None:
    rid = board.post("/events", {"userId": "p1", "eventName": "E"}).headers["x-request-id"]
    board.drain()
    event_id = board.call(board.store.recent_events, board.creds.account_id, None, None, 1)[0].id
    visitor = signed_in(preset)
    allowed = rules.VIEW_PROFILES in preset_role(preset)[1]
    for path in ("debugger", f"requests/{rid}", "debugger?status=refused&endpoint=/events"):
        assert visitor.get(url(board, path)).status_code == (200 if allowed else 403), path
    r = visitor.get(url(board, f"events/{event_id}/trace"), follow_redirects=False)
    assert r.status_code == (303 if allowed else 403)
    if allowed:
        assert r.headers["location"] == url(board, f"requests/{rid}")
        assert visitor.get(url(board, "requests/unknown")).status_code == 404
        assert visitor.get(url(board, "events/12345/trace")).status_code == 404
        nav = BeautifulSoup(visitor.get(url(board, "")).text if rules.VIEW_DASHBOARD in preset_role(preset)[1]
                            else visitor.get(url(board, "events")).text, "html.parser")  # fmt: skip
        assert any(a.get_text() == "Debugger" for a in nav.select("nav a"))


def test_another_accounts_ids_answer_404(board: Harness, signed_in: Callable[[str], Visitor]) -> None:
    other = board.call(board.store.create_account, "other", "boss@other.test")
    board.refresh_auth()
    theirs = board.post("/events", {"userId": "o1", "eventName": "E"}, lc=other.license_code, key=other.api_key)
    assert theirs.status_code == 201
    board.drain()
    event_id = board.call(board.store.recent_events, other.account_id, None, None, 1)[0].id
    admin = signed_in("admin")  # an admin of this account only
    rid = theirs.headers["x-request-id"]
    assert admin.get(url(board, f"requests/{rid}")).status_code == 404
    assert admin.get(url(board, f"events/{event_id}/trace")).status_code == 404
    assert admin.get(account_url(other.license_code, f"requests/{rid}")).status_code == 404
    assert rid not in admin.get(url(board, "debugger")).text


def test_the_trace_page_says_pending_then_processed_with_drops(board: Harness, owner: Visitor) -> None:
    r = board.post("/events", {"userId": "t1", "eventName": "Bought", "eventData": {"we_hidden": 1, "Price": 3}})
    rid = r.headers["x-request-id"]
    page = BeautifulSoup(owner.get(url(board, f"requests/{rid}")).text, "html.parser")
    assert "not yet processed" in page.select_one("#processed").get_text()
    board.drain()
    page = BeautifulSoup(owner.get(url(board, f"requests/{rid}")).text, "html.parser")
    text = page.get_text(" ")
    assert "lag" in page.select_one("#processed").get_text() and "/events" in text
    assert "reserved_prefix" in text and "eventData.we_hidden" in text and "Bought" in text
    assert page.find("a", href=url(board, "users/t1")) is not None  # the profile it landed on


def test_the_live_tail_the_profile_and_the_debugger_link_to_traces(board: Harness, owner: Visitor) -> None:
    rid = board.post("/events", {"userId": "l1", "eventName": "E"}).headers["x-request-id"]
    board.post("/events", content=b'{"eventName": "no ids"}')  # refused: listed, without a trace link
    flush(board)
    board.drain()
    for path in ("events", "users/l1"):
        page = BeautifulSoup(owner.get(url(board, path)).text, "html.parser")
        links = [a["href"] for a in page.find_all("a", string="Trace")]
        assert links, path
        assert owner.get(links[0]).headers["location"] == url(board, f"requests/{rid}")
    page = BeautifulSoup(owner.get(url(board, "debugger")).text, "html.parser")
    rows = page.select("table.debugger tbody tr")
    statuses = [row.find_all("td")[2].get_text(strip=True) for row in rows]
    assert statuses == ["400", "201"]
    assert rows[1].find("a", string="Trace")["href"] == url(board, f"requests/{rid}")
    assert rows[0].find("a", string="Trace") is None and '"no ids"' in rows[0].get_text()
    only = BeautifulSoup(owner.get(url(board, "debugger?status=accepted")).text, "html.parser")
    assert len(only.select("table.debugger tbody tr")) == 1
    none = BeautifulSoup(owner.get(url(board, "debugger?endpoint=/bulk-users")).text, "html.parser")
    assert not none.select("table.debugger tbody tr")


def test_hostile_values_render_inert_on_the_debugger_and_the_trace(board: Harness, owner: Visitor) -> None:
    user = {"userId": HOSTILE_ID, "attributes": {HOSTILE_NAME: HOSTILE_VALUE + "past 999"}}
    r = board.post("/users", user, headers={"x-request-id": HOSTILE_REQUEST})
    assert r.status_code == 201
    event = {"userId": HOSTILE_ID, "eventName": HOSTILE_NAME, "eventData": {HOSTILE_NAME: HOSTILE_VALUE}}
    rid = board.post("/events", event).headers["x-request-id"]
    hostile_body = ('{"eventName": "' + HOSTILE_NAME + '", "x": "' + HOSTILE_VALUE[:200] + '"}').encode()
    raw_header = HOSTILE_ID.replace("\n", " ").encode()  # servers read header bytes as Latin-1
    board.post("/events", content=hostile_body, headers={"x-request-id": raw_header})  # type: ignore[dict-item]
    flush(board)
    board.drain()
    texts = []
    for path in ("debugger", "requests/" + quote(HOSTILE_REQUEST, safe=""), f"requests/{rid}"):
        resp = owner.get(url(board, path))
        assert resp.status_code == 200, (path, resp.text[:300])
        assert "<script>alert" not in resp.text and "<img src=x" not in resp.text and "<svg onload" not in resp.text
        soup = inert(resp.text)
        for a in soup.find_all("a", href=True):
            assert a["href"].startswith(("/dashboard/", "#", "")) and "javascript:" not in a["href"].lower(), a
        texts.append(soup.get_text())
    joined = "\n".join(texts)
    for needle in (HOSTILE_NAME, HOSTILE_REQUEST, HOSTILE_VALUE[:60], '<script>alert("id")</script>'):
        assert needle in joined
    # the hostile request id's own trace link (quoted: "/.." stays inside the id) opens it
    soup = BeautifulSoup(owner.get(url(board, "debugger")).text, "html.parser")
    targets = [a["href"] for a in soup.find_all("a", string="Trace")]
    assert url(board, "requests/" + quote(HOSTILE_REQUEST, safe="")) in targets
