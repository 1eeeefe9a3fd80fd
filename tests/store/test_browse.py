"""The dashboard's data reads (store/browse.py) and what the processor keeps for them (store/derived.py),
on both stores: search finds every kind of identifier and value and follows updates, merges and
deletes; pages; the live tail's reads; catalogue and rejection counters; and the migration's backfill
computes exactly what the processor maintains."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest

from openengage.store.base import InvalidCursor, Page, UserHit
from tests.store.test_admin import raw_sql
from tests.support.harness import Harness


def found(api: Harness, q: str, limit: int = 50) -> list[tuple[str | None, str]]:
    """(user id or anonymous id, matched field) of every hit of `q`, across all pages."""
    out: list[tuple[str | None, str]] = []
    cursor = None
    while True:
        page: Page[UserHit] = api.call(api.store.search_users, api.creds.account_id, q, limit, cursor)
        out += [(h.user_id if h.user_id is not None else h.anonymous_id, h.field) for h in page.items]
        if page.next is None:
            return out
        cursor = page.next


def ids(api: Harness, q: str) -> list[str | None]:
    return [who for who, _ in found(api, q)]


def send(api: Harness, path: str, body: Any) -> None:
    r = api.post(path, body)
    assert r.status_code == 201, r.text


def seed(api: Harness) -> None:
    send(api, "/users", {
        "userId": "Ann-01", "firstName": "Ann", "lastName": "Lee", "email": "Ann.Lee@Example.COM",
        "phone": "+14155550100", "city": "  Zürich  ",
        "attributes": {"Plan": "Gold", "Seats": 12, "Ratio": 0.5, "Vip": True, "Tags": ["alpha", "Beta", 7],
                       "Meta": {"nested": "hidden"}, "Joined": "2024-05-01T10:00:00+0000"},
    })  # fmt: skip
    send(api, "/users", {"userId": "bob", "email": "bob@example.com", "attributes": {"Plan": "gold plus"}})
    send(api, "/users", {"anonymousId": "anon-Q1", "attributes": {"Plan": "Platinum"}})
    api.drain()


def test_search_finds_every_kind_of_identifier_and_value(api: Harness) -> None:
    seed(api)
    assert found(api, "Ann-01") == [("Ann-01", "userId")]  # exact id first (identities)
    assert found(api, "ann-0") == [("Ann-01", "userId")]  # a beginning, any case of A-Z
    assert found(api, "anon-Q1") == [("anon-Q1", "anonymousId")]  # anonymous ids: exactly as sent
    assert found(api, "anon-q1") == []
    assert found(api, "ann.lee@example.com") == [("Ann-01", "email")]
    assert found(api, "+1415555") == [("Ann-01", "phone")]
    assert found(api, "lee") == [("Ann-01", "lastName")]
    assert found(api, "zürich") == [("Ann-01", "city")]  # trimmed; non-ASCII letters as they are
    assert found(api, "ZÜRICH") == []  # only A-Z fold (the stores' SQL agrees with it: see the backfill test)
    assert found(api, "12") == [("Ann-01", "attributes.Seats")]  # whole numbers
    assert found(api, "0.5") == []  # not fractions
    assert found(api, "true") == []  # not booleans
    assert found(api, "hidden") == []  # not inside objects
    assert found(api, "beta") == [("Ann-01", "attributes.Tags")]  # array elements
    assert found(api, "7") == [("Ann-01", "attributes.Tags")]
    assert found(api, "2024-05-01") == [("Ann-01", "attributes.Joined")]  # dates as sent
    assert sorted(ids(api, "gold")) == ["Ann-01", "bob"]  # "Gold", then "gold plus"
    assert ids(api, "gold")[0] == "Ann-01"  # the exact value comes first
    assert ids(api, "platinum") == ["anon-Q1"]  # an anonymous profile's attribute
    assert found(api, "nobody") == []


def test_hits_carry_what_the_users_page_shows(api: Harness) -> None:
    seed(api)
    page = api.call(api.store.search_users, api.creds.account_id, "platinum", 10, None)
    (hit,) = page.items
    assert hit.user_id is None and hit.anonymous_id == "anon-Q1" and hit.attributes == {"Plan": "Platinum"}
    (ann,) = api.call(api.store.search_users, api.creds.account_id, "ann.lee", 10, None).items
    assert ann.system["email"] == "Ann.Lee@Example.COM" and ann.term == "ann.lee@example.com"
    assert ann.last_seen is not None and ann.first_seen is not None


def test_search_follows_updates_merges_and_deletes(api: Harness) -> None:
    seed(api)
    send(api, "/users", {"userId": "bob", "email": "robert@example.com"})
    api.drain()
    assert ids(api, "bob@example.com") == []
    assert ids(api, "robert@") == ["bob"]
    # an anonymous visitor signs up: its values are now the known user's
    send(api, "/users", {"anonymousId": "visitor", "attributes": {"Coupon": "SPRING24"}})
    api.drain()
    assert ids(api, "spring24") == ["visitor"]
    send(api, "/users", {"userId": "carol", "anonymousId": "visitor"})  # promotes the anonymous profile
    api.drain()
    assert ids(api, "spring24") == ["carol"] and ids(api, "visitor") == ["carol"]
    send(api, "/users", {"anonymousId": "visitor-2", "attributes": {"Referrer": "FALL24"}})
    send(api, "/users", {"userId": "carol", "anonymousId": "visitor-2"})  # merges into carol
    api.drain()
    assert ids(api, "fall24") == ["carol"] and ids(api, "visitor-2") == ["carol"]
    # MoEngage: merge bob into carol, then delete carol
    merge = {"merge_data": [{"merged_user": "bob", "retained_user": "carol"}]}
    r = api.client.post(f"/v1/customer/merge?app_id={api.creds.app_id}", json=merge, headers=api.basic())
    assert r.status_code == 200, r.text
    api.drain()
    assert ids(api, "robert@example.com") == ["carol"]
    assert found(api, "bob") == [("carol", "userId")]  # bob's user id now leads to carol
    r = api.client.post(
        f"/v1/customer/delete?app_id={api.creds.app_id}",
        json={"identity_type": "customer_id", "identity_value": "carol"},
        headers=api.basic(),
    )
    assert r.status_code == 200, r.text
    api.drain()
    assert ids(api, "carol") == [] and ids(api, "spring24") == [] and ids(api, "robert") == []
    left = raw_sql(api.settings.database_url, "SELECT DISTINCT profile_id FROM search_terms")
    live = raw_sql(api.settings.database_url, "SELECT id FROM profiles")
    assert {r[0] for r in left} <= {r[0] for r in live}  # no term outlives its profile


def test_search_pages_through_many_matches_without_repeats(api: Harness) -> None:
    bulk = [{"userId": f"u{i:03}", "attributes": {"Team": "Red", "Nick": f"red-{i:03}"}} for i in range(25)]
    for start in range(0, 125, 25):
        users = [{**u, "userId": f"{start}-{u['userId']}"} for u in bulk]
        assert api.post("/bulk-users", {"users": users}).status_code == 201
    api.drain()
    pages: list[list[str | None]] = []
    cursor = None
    while True:
        page = api.call(api.store.search_users, api.creds.account_id, "red", 40, cursor)
        pages.append([h.user_id for h in page.items])
        if page.next is None:
            break
        cursor = page.next
    every = [u for p in pages for u in p]
    assert len(every) == len(set(every)) == 125  # one row per profile: "red" (Team) before "red-nnn" (Nick)
    assert [len(p) for p in pages] == [40, 40, 40, 5]
    with pytest.raises(InvalidCursor):
        api.call(api.store.search_users, api.creds.account_id, "red", 40, "not-a-cursor")
    with pytest.raises(InvalidCursor):  # a cursor of another query
        api.call(api.store.search_users, api.creds.account_id, "blue", 40, cursor)


def test_users_are_listed_by_user_id_in_pages(api: Harness) -> None:
    for i in (3, 1, 2):
        send(api, "/users", {"userId": f"user-{i}"})
    send(api, "/users", {"anonymousId": "anonymous-only"})
    api.drain()
    first = api.call(api.store.list_users, api.creds.account_id, 2, None)
    assert [h.user_id for h in first.items] == ["user-1", "user-2"] and first.next
    second = api.call(api.store.list_users, api.creds.account_id, 2, first.next)
    assert [h.user_id for h in second.items] == ["user-3"] and second.next is None
    with pytest.raises(InvalidCursor):
        api.call(api.store.list_users, api.creds.account_id, 2, "eyJ4Ijp0cnVlfQ")


def test_the_catalogue_counts_events_attributes_and_values(api: Harness) -> None:
    for _ in range(2):  # two batches: the counters add up
        send(api, "/events", {"userId": "u", "eventName": "Paid", "eventData": {"Amount": 5, "Note": "x"}})
        send(api, "/events", {"userId": "u", "eventName": "Paid", "eventData": {"Amount": 7}})
        send(api, "/users", {"userId": "u", "attributes": {"Plan": "Gold"}})
        api.drain()
    send(api, "/events", {"userId": "u", "eventName": "Opened"})
    send(api, "/users", {"userId": "v", "attributes": {"Plan": 3}})  # dropped: not counted
    api.drain()
    entries = {(e.scope, e.name): e for e in api.call(api.store.catalogue, api.creds.account_id)}
    assert set(entries) == {("event", "Opened"), ("event", "Paid"), ("event:Paid", "Amount"),
                            ("event:Paid", "Note"), ("user", "Plan")}  # fmt: skip
    assert entries[("event", "Paid")].count == 4 and entries[("event", "Opened")].count == 1
    assert entries[("event:Paid", "Amount")].count == 4 and entries[("event:Paid", "Amount")].type == "Number"
    assert entries[("event:Paid", "Note")].count == 2
    assert entries[("user", "Plan")].count == 2 and entries[("user", "Plan")].type == "String"
    paid = entries[("event", "Paid")]
    assert paid.first_seen is not None and paid.last_seen is not None and paid.first_seen <= paid.last_seen


def test_rejections_are_grouped_with_counts_and_examples(api: Harness) -> None:
    send(api, "/users", {"userId": "u", "attributes": {"Age": 30}})
    api.drain()
    for value in ("thirty", "forty", "fifty"):
        send(api, "/users", {"userId": "u", "attributes": {"Age": value, "we_x": 1}})
        api.drain()
    groups = {(g.reason, g.field): g for g in api.call(api.store.rejection_groups, api.creds.account_id)}
    age = groups[("type_conflict", "attributes.Age")]
    assert age.count == 3 and age.example_value == "fifty" and age.example_user_id == "u"
    assert age.first_at <= age.last_at
    assert groups[("reserved_prefix", "attributes.we_x")].count == 3
    first = api.call(api.store.rejection_examples, api.creds.account_id, "type_conflict", "", "attributes.Age", 2, None)
    assert [r.value for r in first.items] == ["fifty", "forty"] and first.next
    rest = api.call(
        api.store.rejection_examples, api.creds.account_id, "type_conflict", "", "attributes.Age", 2, first.next
    )
    assert [r.value for r in rest.items] == ["thirty"] and rest.next is None


def test_a_profiles_rejections_include_its_anonymous_past(api: Harness) -> None:
    send(api, "/users", {"anonymousId": "a1", "attributes": {"we_a": 1}})
    send(api, "/users", {"userId": "someone-else", "attributes": {"we_b": 1}})
    api.drain()
    send(api, "/users", {"userId": "u1", "anonymousId": "a1", "attributes": {"we_c": 1}})
    api.drain()
    profile = api.call(api.store.profile, api.creds.account_id, "u", "u1")
    assert profile is not None
    page = api.call(api.store.profile_rejections, api.creds.account_id, "u1", profile.anonymous_ids, 10, None)
    assert [r.field for r in page.items] == ["attributes.we_c", "attributes.we_a"]
    merges = api.call(api.store.profile_merges, api.creds.account_id, profile.id, 10)
    assert [(m.anonymous_id, m.user_id) for m in merges] == [("a1", "u1")]


def test_the_tail_reads_filter_by_name_and_profile(api: Harness) -> None:
    for i in range(3):
        send(api, "/events", {"userId": "u1", "eventName": "A", "eventData": {"i": i}})
        send(api, "/events", {"userId": "u2", "eventName": "B", "eventData": {"i": i}})
    api.drain()
    acc = api.creds.account_id
    newest = api.call(api.store.recent_events, acc, None, None, 4)
    assert [(e.name, e.data["i"]) for e in newest] == [("B", 2), ("A", 2), ("B", 1), ("A", 1)]
    assert [e.name for e in api.call(api.store.recent_events, acc, "B", None, 10)] == ["B", "B", "B"]
    u1 = api.call(api.store.profile_id, acc, "u", "u1")
    assert u1 is not None
    assert {e.user_id for e in api.call(api.store.recent_events, acc, None, u1, 10)} == {"u1"}
    latest = api.call(api.store.latest_event_id)
    assert latest == newest[0].id
    send(api, "/events", {"userId": "u1", "eventName": "A", "eventData": {"i": 9}})
    send(api, "/events", {"userId": "u2", "eventName": "B", "eventData": {"i": 9}})
    api.drain()
    after = api.call(api.store.tail_events, acc, latest, None, None, 10)
    assert [(e.name, e.data["i"]) for e in after][-2:] == [("A", 9), ("B", 9)]  # oldest first
    assert all(e.id > latest for e in after) or api.store.tail_lookback > 0
    assert [e.data["i"] for e in api.call(api.store.tail_events, acc, latest, "B", None, 10)][-1] == 9
    assert {e.user_id for e in api.call(api.store.tail_events, acc, latest, None, u1, 10)} == {"u1"}
    assert len(api.call(api.store.tail_events, acc, 0, None, None, 3)) == 3  # the newest 3 when more came


def test_another_accounts_data_is_never_found(api: Harness) -> None:
    seed(api)
    other = api.call(api.store.create_account, "other", "boss@other.test")
    assert api.call(api.store.search_users, other.account_id, "gold", 10, None).items == []
    assert api.call(api.store.search_users, other.account_id, "Ann-01", 10, None).items == []
    assert api.call(api.store.list_users, other.account_id, 10, None).items == []
    assert api.call(api.store.catalogue, other.account_id) == []
    assert api.call(api.store.rejection_groups, other.account_id) == []
    assert api.call(api.store.recent_events, other.account_id, None, None, 10) == []


# ---------------------------------------------------------------- the migration's backfill


def _backfill_statements(database_url: str) -> list[str]:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    folder = resources.files(f"openengage.store.{backend}").joinpath("migrations", "main")
    name = next(p.name for p in folder.iterdir() if p.name.endswith("_dashboard_data.sql"))
    text = folder.joinpath(name).read_text()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text) if s.strip().upper().startswith("INSERT")]


TABLES = {
    "search_terms": "SELECT profile_id, term, account_id, field FROM search_terms",
    "data_counts": "SELECT account_id, scope, name, sum(count), min(first_seen), max(last_seen) FROM data_counts "
    "WHERE scope <> 'user' GROUP BY account_id, scope, name",
    "rejection_counts": "SELECT account_id, reason, event_name, field, sum(count), min(first_at), max(last_at) "
    "FROM rejection_counts GROUP BY account_id, reason, event_name, field",
}


def test_the_backfill_computes_what_the_processor_keeps(api: Harness) -> None:
    """The migration fills the tables for data stored before them, in SQL; the processor keeps them in
    Python (rules/search.py). Both must agree exactly, or a user stored before the upgrade would not be
    found the way one stored after it is."""
    url = api.settings.database_url
    seed(api)
    send(api, "/users", {"userId": "  MiXeD Case  ", "company": "ACME Ünïcode", "attributes": {
        "Big": 2**62, "Huge": 2**64, "Neg": -5, "Float": 3.0, "Long": "L" * 300, "Arr": list(range(60)),
        "Empty": "   ", "Dup": "ann-01", "Deep": [["x"]], "Nul": None}})  # fmt: skip
    send(api, "/events", {"userId": "Ann-01", "eventName": "E", "eventData": {"a": 1, "b": "x"}})
    send(api, "/events", {"userId": "Ann-01", "eventName": "E", "eventData": {"a": "y"}})
    send(api, "/users", {"userId": "bob", "anonymousId": "anon-Q1"})
    api.drain()
    kept = {t: sorted(map(tuple, raw_sql(url, q))) for t, q in TABLES.items()}
    assert kept["search_terms"] and kept["data_counts"] and kept["rejection_counts"]
    for table in TABLES:
        raw_sql(url, f"DELETE FROM {table}")
    for statement in _backfill_statements(url):
        raw_sql(url, statement)
    filled = {t: sorted(map(tuple, raw_sql(url, q))) for t, q in TABLES.items()}
    for table in TABLES:
        extra, missing = set(filled[table]) - set(kept[table]), set(kept[table]) - set(filled[table])
        assert (extra, missing) == (set(), set()), table
