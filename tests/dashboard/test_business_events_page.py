"""The dashboard's business events pages (#10): definitions with their attributes and counts, one
definition's saved events (newest first, paginated), names with any character, hostile values escaped.
Both stores; the permission table (test_permissions.py) checks the pages' permission from the registry."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from openengage.dashboard.pages import account_url
from openengage.dashboard.views import business as view
from tests.support.dashboard import Visitor
from tests.support.harness import Harness

HOSTILE = '<script>alert("x")</script>/?#'


def define(board: Harness, name: str, *attributes: tuple[str, str]) -> None:
    body = {"eventName": name, "attributes": [{"attributeName": a, "dataType": t} for a, t in attributes]}
    headers = {"Content-Type": "application/json", **board.auth()}
    r = board.client.post(f"/v2/accounts/{board.lc}/business/events/definition", json=body, headers=headers)
    assert r.status_code == 201, r.text


def save(board: Harness, name: str, data: dict[str, object], when: str | None = None) -> None:
    body = {"eventName": name, "eventData": data} | ({"eventTime": when} if when else {})
    headers = {"Content-Type": "application/json", **board.auth()}
    r = board.client.post(f"/v2/accounts/{board.lc}/business/save-event", json=body, headers=headers)
    assert r.status_code == 201, r.text


def soup(r: object) -> BeautifulSoup:
    assert r.status_code == 200, (r.status_code, r.text[:300])  # type: ignore[attr-defined]
    return BeautifulSoup(r.text, "html.parser")  # type: ignore[attr-defined]


@pytest.fixture
def board(database_url: str) -> object:
    with Harness(database_url, limits={"business-definitions": 0}) as harness:
        yield harness


def test_definitions_and_saved_events(board: Harness, owner: Visitor, monkeypatch: pytest.MonkeyPatch) -> None:
    page = soup(owner.get(account_url(board.lc, "business-events")))
    assert "No business event is defined yet" in page.get_text()
    define(board, "Price Drop", ("sku", "string"), ("price", "number"), ("tags", "array"))
    define(board, HOSTILE, ("a", "map"))
    for n in range(3):
        save(board, "Price Drop", {"sku": f"A-{n}", "price": n, "tags": ["x", n]}, f"2024-01-0{n + 1}T00:00:00+0000")
    save(board, HOSTILE, {"a": {"html": "<b>bold</b>"}})

    page = soup(owner.get(account_url(board.lc, "business-events")))
    rows = {r.th.get_text(strip=True): [td.get_text(" ", strip=True) for td in r.find_all("td")]
            for r in page.select("table.business-events tbody tr")}  # fmt: skip
    assert rows["Price Drop"][:2] == ["sku string , price number , tags array", "3"]
    assert rows[HOSTILE][1] == "1"
    assert page.find("script", string=lambda s: s is not None and "alert" in s) is None  # shown as text
    nav = [a.get_text(strip=True) for a in page.select("nav a")]
    assert "Business events" in nav

    monkeypatch.setattr(view, "PAGE_SIZE", 2)
    link = page.find("a", string="Price Drop")
    assert link is not None
    first = soup(owner.get(str(link["href"])))
    times = [r.find("td").get_text(strip=True) for r in first.select("table.saved-events tbody tr")]
    assert times == ["2024-01-03T00:00:00+0000", "2024-01-02T00:00:00+0000"]
    assert '["x",2]' in first.get_text()  # values as JSON
    older = first.select_one("a[rel=next]")
    assert older is not None
    rest = soup(owner.get(str(older["href"])))
    assert [r.find("td").get_text(strip=True) for r in rest.select("table.saved-events tbody tr")] == [
        "2024-01-01T00:00:00+0000"
    ]

    hostile = soup(owner.get(account_url(board.lc, "business-events/" + quote(HOSTILE, safe=""))))
    assert HOSTILE in hostile.get_text() and '{"html":"<b>bold</b>"}' in hostile.get_text()
    assert hostile.find("script", string=lambda s: s is not None and "alert" in s) is None
    assert hostile.find("b") is None


def test_unknown_definitions_and_bad_cursors(board: Harness, owner: Visitor) -> None:
    assert owner.get(account_url(board.lc, "business-events/Nope")).status_code == 404
    define(board, "Real")
    r = owner.get(account_url(board.lc, "business-events/Real") + "?cursor=bogus")
    assert r.status_code == 400
