"""The pages of this track: overview, REST API key, Data API key, team, audit log. Both stores."""

from __future__ import annotations

import base64
import re
import time

import pytest
from bs4 import BeautifulSoup

from openengage import accounts as rules
from openengage.dashboard.charts import MINUTE_MS, minute_chart
from openengage.dashboard.pages import account_url
from openengage.rules.dates import now_ms
from openengage.store.base import Minute
from tests.store.test_admin import raw_sql
from tests.support.dashboard import Visitor
from tests.support.harness import Harness


def soup_of(r: object) -> BeautifulSoup:
    assert r.status_code == 200, (r.status_code, r.text[:500])  # type: ignore[attr-defined]
    return BeautifulSoup(r.text, "html.parser")  # type: ignore[attr-defined]


def shown_once(r: object) -> str:
    """The key a page shows once (the read-only field of the `secret` box)."""
    field = soup_of(r).select_one(".secret input")
    assert field is not None
    return str(field["value"])


def until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# ---------------------------------------------------------------- overview


def test_overview_shows_the_counts_and_the_latest_rejections(board: Harness, owner: Visitor) -> None:
    board.post("/users", {"userId": "u1", "firstName": "Ann"})
    board.post("/users", {"anonymousId": "a1", "attributes": {"we_reserved": 1}})
    board.post("/events", {"userId": "u1", "eventName": "Added To Cart", "eventData": {"n": 1}})
    board.drain()
    board.post("/events", {"userId": "u1", "eventName": "Pending One"})  # not yet processed
    soup = soup_of(owner.get(account_url(board.lc, "")))
    counters = {dt.get_text(strip=True): dd.get_text(strip=True) for dt, dd in zip(
        soup.select(".counters dt"), soup.select(".counters dd"), strict=True)}  # fmt: skip
    assert counters == {"Users": "1", "Anonymous users": "1", "Events": "1", "Pending": "1"}
    rejections = soup.find("section", attrs={"aria-labelledby": "rejections"})
    assert rejections is not None and "we_reserved" in rejections.get_text()


def test_overview_charts_the_last_hour_per_minute(board: Harness, owner: Visitor, database_url: str) -> None:
    now = now_ms()
    this_minute = now - now % MINUTE_MS
    rows = [(this_minute - 5 * MINUTE_MS, 40, 38), (this_minute - MINUTE_MS, 10, 12)]
    rows.append((this_minute - 90 * MINUTE_MS, 999, 999))  # older than the hour: not shown
    values = ", ".join(f"({board.creds.account_id}, {m}, {a}, {p})" for m, a, p in rows)
    raw_sql(database_url, f"INSERT INTO minute_counts (account_id, minute, accepted, processed) VALUES {values}")
    soup = soup_of(owner.get(account_url(board.lc, "")))
    svg = soup.find("svg")
    assert svg is not None and svg["role"] == "img"
    assert "Accepted 50, processed 50 in the last 60 minutes" in svg.get_text()  # the 90-minute-old row is out
    lines = {p["class"][0]: p["points"].split() for p in svg.find_all("polyline")}
    assert len(lines["accepted"]) == len(lines["processed"]) == 60
    table = [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in soup.select("details tbody tr")]
    assert [row[1:] for row in table] == [["10", "12"], ["40", "38"]]


def test_the_chart_fills_empty_minutes_and_scales_to_the_peak() -> None:
    now = 10 * 60 * MINUTE_MS + 30_000
    chart = minute_chart([Minute(now - now % MINUTE_MS, 7, 3)], now)
    assert len(chart.minutes) == 60 and chart.minutes[-1].accepted == 7 and chart.top == 10
    assert sum(m.accepted for m in chart.minutes[:-1]) == 0
    ys = [float(p.split(",")[1]) for p in chart.accepted.split()]
    assert min(ys) < max(ys)  # the peak is drawn higher than the zeros


# ---------------------------------------------------------------- REST API key


def test_rest_api_page_shows_license_code_base_url_and_my_key(board: Harness, owner: Visitor) -> None:
    soup = soup_of(owner.get(account_url(board.lc, "integrations/rest-api")))
    text = soup.get_text(" ")
    assert board.lc in soup.find(id="license-code").get_text()
    assert soup.find(id="base-url").get_text() == f"http://testserver/v1/accounts/{board.lc}/"
    assert "active" in text and board.creds.api_key[-4:] in text and board.creds.api_key not in text
    assert "Last used" in text and "never" in text
    assert soup.find("button", string="Generate new key") is not None


def test_key_last_use_is_remembered_without_a_write_per_request(board: Harness, owner: Visitor) -> None:
    for _ in range(3):
        assert board.get("/stats").status_code == 200
    keys = board.call(board.store.list_keys, board.creds.account_id)
    assert keys[0].last_used_at is None  # not written on the request path
    before = now_ms()
    board.call(board.app.state.services.auth.flush_key_uses)  # what the poller does every few seconds
    used = board.call(board.store.list_keys, board.creds.account_id)[0].last_used_at
    assert used is not None and before - 5_000 <= used <= now_ms()
    page = soup_of(owner.get(account_url(board.lc, "integrations/rest-api"))).get_text(" ")
    assert "never" not in page.split("Last used")[1][:40]


def test_generate_new_key_shows_it_once_and_the_old_one_stops(board: Harness, owner: Visitor) -> None:
    old = board.creds.api_key
    assert board.get("/stats", key=old).status_code == 200
    r = owner.generate(account_url(board.lc, "integrations/rest-api"))
    new = shown_once(r)
    assert new != old and "only time it is shown" in r.text
    until(lambda: board.get("/stats", key=old).status_code == 401)  # the poller drops caches within a second
    assert board.get("/stats", key=new).status_code == 200
    # shown once: the page does not show it again
    again = owner.get(account_url(board.lc, "integrations/rest-api"))
    assert new not in again.text and new[-4:] in again.text
    entry = board.call(board.store.audit, board.creds.account_id, 1, None).items[0]
    assert (entry.action, entry.actor, entry.target, entry.address) == (
        "key.issue",
        board.creds.owner_email,
        board.creds.owner_email,
        "testclient",
    )
    assert new not in entry.detail  # fmt: skip


def test_a_member_generates_only_their_own_key(board: Harness, signed_in: object) -> None:
    integrator = signed_in("custom:update_integrations")  # type: ignore[operator]
    r = integrator.generate(account_url(board.lc, "integrations/rest-api"))
    assert shown_once(r)
    keys = {k.member: k for k in board.call(board.store.list_keys, board.creds.account_id) if k.revoked_at is None}
    assert board.get("/stats").status_code == 200  # the owner's key is untouched
    assert integrator.email in keys


# ---------------------------------------------------------------- Data API key


def basic(app_id: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{app_id}:{key}".encode()).decode()}


def moengage_status(board: Harness, key: str) -> int:
    body = {"type": "customer", "customer_id": "c1", "attributes": {"name": "C"}}
    r = board.client.post(f"/v1/customer/{board.creds.app_id}", json=body, headers=basic(board.creds.app_id, key))
    return r.status_code


def test_data_api_page_and_generate_new_key(board: Harness, owner: Visitor) -> None:
    soup = soup_of(owner.get(account_url(board.lc, "integrations/data-api")))
    assert soup.find(id="app-id").get_text() == board.creds.app_id
    old = board.creds.data_api_key
    assert moengage_status(board, old) == 200
    new = shown_once(owner.generate(account_url(board.lc, "integrations/data-api")))
    assert new != old
    until(lambda: moengage_status(board, old) == 401)
    assert moengage_status(board, new) == 200
    assert new not in owner.get(account_url(board.lc, "integrations/data-api")).text
    entry = board.call(board.store.audit, board.creds.account_id, 1, None).items[0]
    assert (entry.action, entry.actor) == ("account.rotate_data_key", board.creds.owner_email)


@pytest.mark.parametrize(("page", "works"), [("rest-api", "/stats"), ("data-api", "moengage")])
def test_a_generate_form_sent_again_changes_nothing(board: Harness, owner: Visitor, page: str, works: str) -> None:
    """A reload of the page that showed a new key sends its form again: that must not revoke the key
    just shown (the user may have copied it already). The second send answers 409 and says why."""
    url = account_url(board.lc, f"integrations/{page}")
    form = owner.generate_form(url)
    new = shown_once(owner.submit(url + "/generate", form))

    def usable(key: str) -> bool:
        if works == "moengage":
            return moengage_status(board, key) == 200
        return board.get(works, key=key).status_code == 200

    audit_before = board.call(board.store.audit, board.creds.account_id, 100, None).items
    again = owner.submit(url + "/generate", form)  # what the browser's reload sends
    assert again.status_code == 409, again.text[:300]
    refused = BeautifulSoup(again.text, "html.parser")
    assert "no key was generated" in refused.get_text(" ") and new not in again.text
    assert refused.select_one(".secret input") is None
    assert board.call(board.store.audit, board.creds.account_id, 100, None).items == audit_before
    time.sleep(1.2)  # past the config poll: had the key changed, every node would have dropped it by now
    assert usable(new)
    for forged in ({"replaces": "none"}, {"replaces": "x" * 999}):
        assert owner.submit(url + "/generate", forged).status_code == 409
    assert usable(new)
    # A POST with only the CSRF token (a script, not the page's form) is not checked: it generates.
    scripted = shown_once(owner.submit(url + "/generate"))
    assert scripted != new
    until(lambda: not usable(new))
    new = scripted
    # the page's current form replaces the key just shown
    newer = shown_once(owner.generate(url))
    assert newer != new
    until(lambda: not usable(new))
    assert usable(newer)


# ---------------------------------------------------------------- team


def team_rows(visitor: Visitor, board: Harness) -> dict[str, list[str]]:
    soup = soup_of(visitor.get(account_url(board.lc, "team")))
    rows = {}
    for tr in soup.select("table.team tbody tr"):
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"], recursive=False)]
        rows[cells[0].removesuffix(" (owner)")] = cells[1:]
    return rows


def test_team_lists_members_with_role_permissions_and_key(board: Harness, owner: Visitor) -> None:
    rows = team_rows(owner, board)
    role, permissions, key, _last, _actions = rows[board.creds.owner_email]
    assert role == "admin" and "Account Management" in permissions and "Update Settings" in permissions
    assert key == f"active …{board.creds.api_key[-4:]}"


def test_add_member_with_email_and_role(board: Harness, owner: Visitor) -> None:
    soup = soup_of(owner.get(account_url(board.lc, "team")))
    form = soup.find("form", attrs={"aria-labelledby": "add-member"})
    labels = {lab.get_text(strip=True): lab.get("for") for lab in form.find_all("label") if lab.get("for")}
    assert form.find(id=labels["Email"])["name"] == "email" and form.find(id=labels["Role"]).name == "select"
    r = owner.submit(account_url(board.lc, "team/add"), {"email": "ann@acme.test", "role": "manager"})
    key = shown_once(r)
    assert "ann@acme.test" in team_rows(owner, board)
    member = board.call(board.store.member, board.creds.account_id, "ann@acme.test")
    assert member.role == "manager" and member.permissions == rules.ROLE_PERMISSIONS["manager"]
    assert board.get("/stats", key=key).status_code == 401  # a manager's key cannot call REST (the seed's rule)
    r = owner.submit(account_url(board.lc, "team/add"), {"email": "cus@acme.test", "role": "custom",
                                                         "permission": ["view_dashboard", "update_data"]})  # fmt: skip
    assert shown_once(r)
    custom = board.call(board.store.member, board.creds.account_id, "cus@acme.test")
    assert custom.permissions == {"view_dashboard", "update_data"}
    entry = board.call(board.store.audit, board.creds.account_id, 1, None).items[0]
    assert (entry.action, entry.actor, entry.target, entry.address) == (
        "member.add", board.creds.owner_email, "cus@acme.test", "testclient")  # fmt: skip


def test_team_refusals_say_why_and_change_nothing(board: Harness, owner: Visitor) -> None:
    url = account_url(board.lc, "team/add")
    bad = owner.submit(url, {"email": "not an email", "role": "admin"})
    assert bad.status_code == 400 and "is not an email address" in bad.text
    owner.submit(url, {"email": "dup@acme.test", "role": "manager"})
    dup = owner.submit(url, {"email": "dup@acme.test", "role": "manager"})
    assert dup.status_code == 409 and "already exists" in dup.text
    demote = owner.submit(account_url(board.lc, "team/role"), {"email": board.creds.owner_email, "role": "manager"})
    assert demote.status_code == 403 and "owns the account" in demote.text
    gone = owner.submit(account_url(board.lc, "team/remove"), {"email": "nobody@acme.test"})
    assert gone.status_code == 404
    assert set(team_rows(owner, board)) == {board.creds.owner_email, "dup@acme.test"}


def test_change_role_remove_and_revoke(board: Harness, owner: Visitor) -> None:
    owner.submit(account_url(board.lc, "team/add"), {"email": "ann@acme.test", "role": "admin"})
    owner.submit(account_url(board.lc, "team/add"), {"email": "bob@acme.test", "role": "admin"})
    r = owner.submit(account_url(board.lc, "team/role"), {"email": "ann@acme.test", "role": "manager"})
    assert r.status_code == 303 and r.headers["location"] == account_url(board.lc, "team") + "?done=role"
    assert "Role changed" in owner.get(r.headers["location"]).text
    rows = team_rows(owner, board)
    assert rows["ann@acme.test"][0] == "manager" and rows["ann@acme.test"][2] == "none"  # key revoked with it
    r = owner.submit(account_url(board.lc, "team/revoke-key"), {"email": "bob@acme.test"})
    assert r.status_code == 303 and team_rows(owner, board)["bob@acme.test"][2] == "none"
    r = owner.submit(account_url(board.lc, "team/remove"), {"email": "ann@acme.test"})
    assert r.status_code == 303 and "ann@acme.test" not in team_rows(owner, board)
    actions = [e.action for e in board.call(board.store.audit, board.creds.account_id, 10, None).items]
    assert actions[:3] == ["member.remove", "key.revoke", "member.set_role"]


def test_revoking_needs_update_data_even_on_the_team_page(board: Harness, signed_in: object) -> None:
    """The seed's rule: only Update Data (Management) revokes keys; a custom Account Management role sees the
    team page, but the revoke is refused and nothing changes."""
    manager_only = signed_in("custom:account_management")  # type: ignore[operator]
    r = manager_only.submit(account_url(board.lc, "team/revoke-key"), {"email": board.creds.owner_email})
    assert r.status_code == 403 and "Update Data Management" in r.text
    assert board.get("/stats").status_code == 200


def test_nobody_grants_what_they_lack(board: Harness, signed_in: object) -> None:
    team_only = signed_in("custom:account_management")  # type: ignore[operator]
    r = team_only.submit(account_url(board.lc, "team/add"), {"email": "x@acme.test", "role": "admin"})
    assert r.status_code == 403 and "cannot grant" in r.text
    assert board.call(board.store.member, board.creds.account_id, "x@acme.test") is None


# ---------------------------------------------------------------- audit


def test_audit_shows_dashboard_and_cli_actions(board: Harness, owner: Visitor) -> None:
    from click.testing import CliRunner

    from openengage.cli import main

    owner.submit(account_url(board.lc, "team/add"), {"email": "ann@acme.test", "role": "manager"})
    result = CliRunner().invoke(main, ["keys", "revoke", board.lc, "ann@acme.test", "--database-url",
                                       board.settings.database_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    soup = soup_of(owner.get(account_url(board.lc, "audit")))
    headers = [th.get_text(strip=True) for th in soup.select("thead th")]
    assert headers == ["Time", "Actor", "Action", "Target", "Detail", "Client address"]
    rows = [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in soup.select("tbody tr")]
    assert rows[0][1].startswith("cli:") and rows[0][2:4] == ["key.revoke", "ann@acme.test"] and rows[0][5] == "local"
    assert rows[1][1:4] == [board.creds.owner_email, "member.add", "ann@acme.test"] and rows[1][5] == "testclient"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", rows[0][0])


def test_audit_pages_through_older_entries(board: Harness, owner: Visitor) -> None:
    for i in range(55):
        board.call(board.store.set_limits, board.creds.account_id, {"events": 1000 + i})
    first = soup_of(owner.get(account_url(board.lc, "audit")))
    assert len(first.select("tbody tr")) == 50
    older = first.find("a", rel="next")
    assert older is not None
    second = soup_of(owner.get(older["href"]))
    assert len(second.select("tbody tr")) == 6 and second.find("a", rel="next") is None
    assert owner.get(account_url(board.lc, "audit") + "?cursor=forged").status_code == 400
