"""The data pages over HTTP (in-process, both stores): users search and listing, profiles (ids holding `/`,
newlines, `%`, dots), live events and their feed, the data catalogue, data quality; hostile values render
as inert text on every one of them."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from openengage.dashboard.pages import account_url
from tests.dashboard.test_security import inert
from tests.support.dashboard import Visitor
from tests.support.harness import Harness


def send(board: Harness, path: str, body: Any) -> None:
    r = board.post(path, body)
    assert r.status_code == 201, r.text


def page(visitor: Visitor, board: Harness, path: str, status: int = 200) -> BeautifulSoup:
    r = visitor.get(account_url(board.lc, path) if not path.startswith("/") else path)
    assert r.status_code == status, (path, r.status_code, r.text[:400])
    return inert(r.text)


def rows(soup: BeautifulSoup, selector: str = "table tbody tr") -> list[list[str]]:
    return [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in soup.select(selector)]


# ---------------------------------------------------------------- users


def test_search_by_each_kind_of_identifier_and_value(board: Harness, owner: Visitor) -> None:
    send(board, "/users", {"userId": "grace.h", "anonymousId": "visitor-1", "email": "Grace@Navy.example",
                           "phone": "+12025550143", "firstName": "Grace", "attributes": {"Plan": "Gold",
                           "Seats": 12, "Tags": ["cobol"]}})  # fmt: skip
    send(board, "/users", {"anonymousId": "visitor-2", "attributes": {"Plan": "Goldish"}})
    board.drain()
    expect = {
        "grace.h": "userId: grace.h",
        "visitor-1": "anonymousId: visitor-1",
        "grace@navy.example": "email: Grace@Navy.example",  # shown as stored
        "+12025550143": "phone: +12025550143",
        "GRACE": "firstName: Grace",  # any case of A-Z; the exact value before longer ones ("grace.h")
        "GRACE.": "userId: grace.h",  # a beginning
        "12": "attributes.Seats: 12",
        "cobol": "attributes.Tags: cobol",
    }
    for q, matched in expect.items():
        soup = page(owner, board, f"users?q={quote(q)}")
        table = rows(soup)
        assert len(table) == 1 and table[0][1] == matched, (q, table)
        link = soup.select_one("table tbody th a")
        assert link is not None and link["href"] == account_url(board.lc, "users/grace.h")
    soup = page(owner, board, "users?q=gold")
    assert [r[0] for r in rows(soup)] == ["grace.h", "visitor-2 anonymous"]  # the exact value first
    link = soup.select("table tbody th a")[1]
    assert link["href"] == account_url(board.lc, "anonymous-users/visitor-2")
    assert "No user matches" in page(owner, board, "users?q=nobody").get_text()


def test_the_users_page_pages_and_lists_without_a_query(board: Harness, owner: Visitor) -> None:
    users = [{"userId": f"user-{i:03}", "attributes": {"Team": "Blue"}} for i in range(25)]
    for start in range(0, 75, 25):
        assert board.post("/bulk-users", {"users": [{**u, "userId": f"{start}-{u['userId']}"} for u in users]})
    board.drain()
    for path in ("users?q=blue", "users"):
        seen: list[str] = []
        while path:
            soup = page(owner, board, path)
            seen += [r[0] for r in rows(soup)]
            nxt = soup.find("a", rel="next")
            path = nxt["href"] if nxt else ""
        assert len(seen) == len(set(seen)) == 75, path
    assert owner.get(account_url(board.lc, "users?q=blue&cursor=garbage")).status_code == 400


@pytest.mark.parametrize(
    "user_id",
    ["a/b", "trailing/", "/leading", "with\nnewline", "50%25 off", "%2F", ".", "..", "q?x=1#frag", "~tilde",
     "<b>bold</b>", "x" * 100],
)  # fmt: skip
def test_profiles_of_ids_holding_any_character(board: Harness, owner: Visitor, user_id: str) -> None:
    send(board, "/users", {"userId": user_id, "attributes": {"Marker": "found-me"}})
    send(board, "/users", {"userId": "a", "attributes": {"Marker": "decoy"}})  # "a/b" must not open "a"
    board.drain()
    soup = page(owner, board, "users?q=found-me")
    link = soup.select_one("table tbody th a")
    assert link is not None
    r = owner.get(link["href"])
    assert r.status_code == 200, (link["href"], r.text[:300])
    profile = inert(r.text)
    assert profile.select_one("code.id").get_text() == user_id  # type: ignore[union-attr]
    assert "found-me" in profile.get_text() and "decoy" not in profile.get_text()


def test_a_profile_shows_everything_about_the_person(board: Harness, owner: Visitor) -> None:
    send(board, "/users", {"anonymousId": "anon-1", "attributes": {"Referrer": "ads"}})
    send(board, "/events", {"anonymousId": "anon-1", "eventName": "Viewed", "eventData": {"page": "/pricing"}})
    board.drain()  # stored before the sign-up (PostgreSQL applies different users' partitions in any order)
    send(
        board,
        "/users",
        {
            "userId": "ann",
            "anonymousId": "anon-1",
            "email": "ann@x.io",
            "phone": "+14155550100",
            "smsOptIn": False,
            "attributes": {"Plan": "Gold", "Joined": "2024-01-01T00:00:00+0000"},
        },
    )
    send(board, "/users", {"userId": "ann", "attributes": {"Plan": 7, "we_x": 1}})
    device = {"type": "device", "customer_id": "ann", "device_id": "d1",
              "attributes": {"platform": "ANDROID", "push_id": "tok-123"}}  # fmt: skip
    r = board.client.post(f"/v1/device/{board.creds.app_id}", json=device, headers=board.basic())
    assert r.status_code == 200, r.text
    for i in range(3):
        send(board, "/events", {"userId": "ann", "eventName": "Paid", "eventData": {"n": i}})
    board.drain()
    soup = page(owner, board, "users/ann")
    text = soup.get_text(" ", strip=True)
    system = {r[0]: r[1:] for r in rows(soup, "table.attributes:nth-of-type(1) tbody tr")}
    assert system["email"] == ["ann@x.io", "String"] and system["smsOptIn"] == ["false", "Boolean"]
    custom = {r[0]: r[1:] for r in rows(soup.find_all("table", class_="attributes")[1])}  # type: ignore[arg-type]
    assert custom == {"Plan": ["Gold", "String"], "Referrer": ["ads", "String"],
                      "Joined": ["2024-01-01T00:00:00+0000", "Date"]}  # fmt: skip
    assert "anon-1" in soup.select_one("ul.ids").get_text()  # type: ignore[union-attr]
    channels = {r[0]: r[1] for r in rows(soup.find("section", attrs={"aria-labelledby": "channels"}))}  # type: ignore[arg-type]
    assert channels == {"Email": "reachable", "SMS": "not reachable", "WhatsApp": "not reachable",
                        "Push": "reachable"}  # fmt: skip
    assert "tok-123" in text and "d1" in text
    events = rows(soup.find("section", attrs={"aria-labelledby": "timeline"}))  # type: ignore[arg-type]
    assert [e[1] for e in events] == ["Paid", "Paid", "Paid", "Viewed"]  # newest first, merged ones included
    dropped = rows(soup.find("section", attrs={"aria-labelledby": "dropped"}))  # type: ignore[arg-type]
    assert {d[1] for d in dropped} == {"type_conflict", "reserved_prefix"}
    merges = rows(soup.find("section", attrs={"aria-labelledby": "identity"}))  # type: ignore[arg-type]
    assert merges and "anon-1" in merges[0][2]
    live = soup.find("a", string="Live events of this user")
    assert live is not None and live["href"] == account_url(board.lc, "events?user=ann")


def test_the_profile_timeline_and_dropped_data_page(board: Harness, owner: Visitor) -> None:
    for i in range(60):
        send(board, "/events", {"userId": "busy", "eventName": f"E{i:02}", "eventData": {"we_x": i}})
    board.drain()
    soup = page(owner, board, "users/busy")
    timeline = soup.find("section", attrs={"aria-labelledby": "timeline"})
    assert len(rows(timeline)) == 50  # type: ignore[arg-type]
    older = timeline.find("a", rel="next")  # type: ignore[union-attr]
    assert older is not None
    rest = inert(owner.get(older["href"]).text).find("section", attrs={"aria-labelledby": "timeline"})
    assert len(rows(rest)) == 10  # type: ignore[arg-type]
    dropped = soup.find("section", attrs={"aria-labelledby": "dropped"})
    assert len(rows(dropped)) == 25 and dropped.find("a", rel="next") is not None  # type: ignore[arg-type, union-attr]


def test_unknown_profiles_answer_404(board: Harness, owner: Visitor) -> None:
    soup = page(owner, board, "users/nobody", 404)
    assert "There is no user nobody in this account." in soup.get_text(" ", strip=True)
    page(owner, board, "anonymous-users/nobody", 404)
    assert owner.get(account_url(board.lc, "users/nobody?events=junk")).status_code == 404


# ---------------------------------------------------------------- live events


def feed(owner: Visitor, board: Harness, **params: str) -> dict[str, Any]:
    r = owner.get(account_url(board.lc, "events/feed"), params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
    assert "<" not in r.text and ">" not in r.text  # escaped as \u003c, even inside values
    body: dict[str, Any] = json.loads(r.text)
    return body


def test_the_live_events_page_and_its_feed(board: Harness, owner: Visitor) -> None:
    send(board, "/events", {"userId": "u1", "eventName": "Opened", "eventData": {"n": 1}})
    send(board, "/events", {"anonymousId": "a1", "eventName": "Viewed"})
    board.drain()
    soup = page(owner, board, "events")
    log = soup.find(attrs={"role": "log"})
    assert log is not None and log.name == "ol"
    assert [li.select_one(".name").get_text() for li in log.find_all("li")] == ["Viewed", "Opened"]  # type: ignore[union-attr]
    assert soup.find("script", src="/dashboard/static/tail.js") is not None
    after = int(log["data-after"])  # type: ignore[arg-type]

    def new(**params: str) -> list[dict[str, Any]]:
        """The feed's events after the page's newest (PostgreSQL's feed also sends some again: the script
        drops what it has; Store.tail_lookback)."""
        return [e for e in feed(owner, board, after=str(after), **params)["events"] if int(e["id"]) > after]

    assert new() == []
    send(board, "/events", {"userId": "u1", "eventName": "Paid", "eventData": {"x": "<b>"}})
    send(board, "/events", {"userId": "u2", "eventName": "Paid"})
    send(board, "/events", {"userId": "u1", "eventName": "Closed"})
    board.drain()
    body = feed(owner, board, after=str(after))
    assert [(e["name"], e["user"]) for e in new()] == [("Paid", "u1"), ("Paid", "u2"), ("Closed", "u1")]
    first = new()[0]
    assert first["data"] == '{"x":"<b>"}' and first["profile"] == account_url(board.lc, "users/u1")
    assert int(body["after"]) == max(int(e["id"]) for e in body["events"])
    assert [e["user"] for e in new(name="Paid")] == ["u1", "u2"]
    assert [e["name"] for e in new(user="u1")] == ["Paid", "Closed"]
    assert feed(owner, board, after="0", user="a1")["events"][0]["anonymous"] is True
    assert feed(owner, board, after="0", user="nobody")["events"] == []
    # a filter that matches nothing still moves `after` on, so polls never grow longer
    assert int(feed(owner, board, after=str(after), name="Nothing")["after"]) == int(body["after"])
    for bad in ("-1", "x", "1e5", "99999999999999999999", "１"):
        assert owner.get(account_url(board.lc, "events/feed"), params={"after": bad}).status_code == 400, bad
    filtered = page(owner, board, "events?name=Paid&user=u1")
    names = [li.select_one(".name").get_text() for li in filtered.select("ol.tail li")]  # type: ignore[union-attr]
    assert names == ["Paid"]
    assert filtered.find(attrs={"role": "log"})["data-feed"] == account_url(board.lc, "events/feed?name=Paid&user=u1")  # type: ignore[index]
    assert "No user" in page(owner, board, "events?user=nobody").get_text()


# ---------------------------------------------------------------- catalogue and data quality


def test_the_data_catalogue(board: Harness, owner: Visitor) -> None:
    attributes = {f"S{i:02}": "x" for i in range(25)}
    send(board, "/users", {"userId": "u", "attributes": {**attributes, "N": 1}})
    send(board, "/events", {"userId": "u", "eventName": "Paid", "eventData": {"Amount": 5}})
    send(board, "/events", {"userId": "u", "eventName": "Paid", "eventData": {"Amount": 6, "Note": "y"}})
    board.drain()
    soup = page(owner, board, "data")
    usage = {r[0]: r[1:] for r in rows(soup, "table.usage tbody tr")}
    assert usage["String"][0] == "25 / 25" and usage["String"][1].startswith("full")
    assert usage["Number"] == ["1 / 25", "24"]
    users = {r[0]: r for r in rows(soup.find("section", attrs={"aria-labelledby": "user-attributes"}))}  # type: ignore[arg-type]
    assert users["N"][1] == "Number" and users["N"][4] == "1" and len(users) == 26
    events = soup.find("section", attrs={"aria-labelledby": "events"})
    paid = next(r for r in rows(events, "tr.event-row"))  # type: ignore[arg-type]
    assert paid[0] == "Paid" and paid[1] == "2" and paid[4] == "String 1/25, Number 1/25"
    nested = {r[0]: r for r in rows(events, "table.nested tbody tr")}  # type: ignore[arg-type]
    assert nested["Amount"][1] == "Number" and nested["Amount"][4] == "2" and nested["Note"][4] == "1"


def test_data_quality_groups_every_rejection(board: Harness, owner: Visitor) -> None:
    send(board, "/users", {"userId": "u", "attributes": {"Age": 1}})
    for value in ("one", "two", "three"):
        send(board, "/users", {"userId": "u", "attributes": {"Age": value}})
    send(board, "/events", {"userId": "u", "eventName": "E", "eventData": {"we_x": 1}})
    board.drain()
    soup = page(owner, board, "data-quality")
    assert rows(soup, "table.reasons tbody tr")[0][:2] == ["type_conflict", "3"]
    groups = soup.find_all("table", class_="groups")
    conflict = rows(groups[0])[0]
    assert conflict[1] == "attributes.Age" and conflict[2] == "3" and conflict[5].startswith("three")
    assert rows(groups[1])[0][:3] == ["E", "eventData.we_x", "1"]
    link = groups[0].find("a", string=re.compile("All 3"))
    examples = page(owner, board, link["href"])
    assert [r[2] for r in rows(examples)] == ["three", "two", "one"]
    assert "Nothing was dropped." not in soup.get_text()


# ---------------------------------------------------------------- hostile values


HOSTILE_ID = '<script>alert("id")</script>\u202eevil/../x\nline'
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_EVENT = '"><svg onload=alert(2)>'
HOSTILE_VALUE = "</td></tr></table><script>alert(3)</script>\u202e" + "v" * 990


def test_hostile_values_are_inert_text_on_every_data_page(board: Harness, owner: Visitor) -> None:
    user = {"userId": HOSTILE_ID, "anonymousId": HOSTILE_NAME, "email": "<x@y.z>", "firstName": HOSTILE_VALUE,
            "attributes": {HOSTILE_NAME: HOSTILE_VALUE, "javascript:alert(1)": "javascript:alert(1)"}}  # fmt: skip
    send(board, "/users", user)
    send(board, "/users", {"userId": HOSTILE_ID, "attributes": {HOSTILE_NAME: 5, "we_" + HOSTILE_NAME: 1}})
    send(board, "/users", {"anonymousId": HOSTILE_VALUE[:100], "attributes": {"p": HOSTILE_VALUE}})
    event = {"userId": HOSTILE_ID, "eventName": HOSTILE_EVENT, "eventData": {HOSTILE_NAME: HOSTILE_VALUE}}
    send(board, "/events", event)
    send(board, "/events", {"anonymousId": HOSTILE_VALUE[:100], "eventName": HOSTILE_EVENT})
    board.drain()
    pages = [
        "users", "users?q=" + quote("<script>"), "users?q=" + quote(HOSTILE_ID), "users?q=" + quote(HOSTILE_NAME),
        "users/" + quote(HOSTILE_ID, safe=""), "anonymous-users/" + quote(HOSTILE_VALUE[:100], safe=""),
        "events", "events?user=" + quote(HOSTILE_ID) + "&name=" + quote(HOSTILE_EVENT), "data", "data-quality",
    ]  # fmt: skip
    texts = []
    for path in pages:
        r = owner.get(account_url(board.lc, path))
        assert r.status_code == 200, (path, r.text[:300])
        assert "<script>alert" not in r.text and "<img src=x" not in r.text and "<svg onload" not in r.text, path
        soup = inert(r.text)
        for a in soup.find_all("a", href=True):  # every link stays on this dashboard
            assert a["href"].startswith(("/dashboard/", "#", "")) and "javascript:" not in a["href"].lower(), a
        texts.append(soup.get_text())
    joined = "\n".join(texts)
    for needle in (HOSTILE_NAME, HOSTILE_EVENT, HOSTILE_VALUE[:60], '<script>alert("id")</script>'):
        assert needle in joined  # shown, as text
    soup = inert(owner.get(account_url(board.lc, "data-quality")).text)
    for a in soup.select("table.groups a"):
        assert owner.get(a["href"]).status_code == 200
    body = feed(owner, board, after="0", user=HOSTILE_ID)
    assert body["events"] and body["events"][0]["name"] == HOSTILE_EVENT


def test_a_long_value_is_shortened_and_direction_isolated(board: Harness, owner: Visitor) -> None:
    send(board, "/users", {"userId": "u", "attributes": {"Bio": "\u202e" + "w" * 998}})
    board.drain()
    soup = page(owner, board, "users/u")
    cell = next(b for b in soup.find_all("bdi") if "www" in b.get_text())
    assert cell.get_text().endswith("…") and len(cell.get_text()) < 400


def test_events_link_to_their_trace_once_the_trace_pages_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace pages (their own track) route `events/{id}/trace` to the request's trace: events link
    there when that page is registered, and show no dead link before."""
    from openengage.dashboard import links
    from openengage.dashboard.pages import PAGES, Page
    from openengage.store.base import Event

    event = Event(42 << 16, "u", None, "E", 0, None, {}, None, 0)
    pages = [p for p in PAGES if p.path != links.EVENT_TRACE]
    monkeypatch.setattr(links, "PAGES", pages)
    assert links.trace_path(event) is None
    monkeypatch.setattr(links, "PAGES", [*pages, Page(links.EVENT_TRACE, "view_profiles", lambda ctx: None)])  # type: ignore[arg-type, return-value]
    assert links.trace_path(event) == f"events/{42 << 16}/trace"


def test_big_catalogues_and_many_rejection_groups_are_cut(
    board: Harness, owner: Visitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing limits how many event names or bad fields clients send: the pages show the first ones
    and say how many more there are."""
    from openengage.dashboard.views import catalogue, quality

    monkeypatch.setattr(catalogue, "EVENTS_SHOWN", 2)
    monkeypatch.setattr(quality, "GROUPS_SHOWN", 2)
    for name in ("A", "B", "C"):
        send(board, "/events", {"userId": "u", "eventName": name})
    send(board, "/users", {"userId": "u", "attributes": {"we_a": 1, "we_b": 2, "we_c": 3}})
    send(board, "/users", {"userId": "u", "attributes": {"we_a": 1}})
    board.drain()
    soup = page(owner, board, "data")
    assert [r[0] for r in rows(soup, "tr.event-row")] == ["A", "B"]
    assert "And 1 more event names" in soup.get_text()
    soup = page(owner, board, "data-quality")
    assert rows(soup, "table.groups tbody tr")[0][1] == "attributes.we_a"  # the most frequent first
    assert len(rows(soup, "table.groups tbody tr")) == 2
    assert "And 1 more groups with 1 rejections" in soup.get_text(" ", strip=True)
