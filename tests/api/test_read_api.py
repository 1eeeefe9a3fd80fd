"""The read API: profile, events with cursor pagination, stats, schema, rejections."""

from __future__ import annotations

from tests.support.harness import Harness


def test_unknown_user_is_404(api: Harness) -> None:
    r = api.get("/users/nobody")
    assert r.status_code == 404
    assert r.json()["response"]["message"] == "Error: no user 'nobody' in this account."
    assert api.get("/users/nobody/events").status_code == 404


def test_events_newest_first_with_cursor_pagination(api: Harness) -> None:
    events = [{"userId": "u", "eventName": f"E{i}", "eventTime": f"2024-01-01T00:00:{i:02d}Z"} for i in range(25)]
    api.post("/bulk-events", {"events": events})
    # two events with the same time keep acceptance order (newest accepted first)
    api.post("/events", {"userId": "u", "eventName": "Tie", "eventTime": "2024-01-01T00:00:24Z"})
    api.drain()
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 10} if cursor is None else {"limit": 10, "cursor": cursor}
        page = api.events("u", **params)
        names += [e["eventName"] for e in page["events"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3
    assert names == ["Tie", *[f"E{i}" for i in range(24, -1, -1)]]


def test_bad_paging_arguments(api: Harness) -> None:
    api.post("/events", {"userId": "u", "eventName": "E"})
    api.drain()
    assert api.get("/users/u/events", params={"limit": 0}).status_code == 400
    assert api.get("/users/u/events", params={"limit": "abc"}).status_code == 400
    assert api.get("/users/u/events", params={"cursor": "!!garbage"}).status_code == 400


def test_user_ids_with_any_character(api: Harness) -> None:
    for user_id in ("johndoe21#", "a/b", "with space", "ünïcødé", "x?y=1&z"):
        api.post("/users", {"userId": user_id, "firstName": "F"})
        api.post("/events", {"userId": user_id, "eventName": "E"})
    api.drain()
    for user_id in ("johndoe21#", "a/b", "with space", "ünïcødé", "x?y=1&z"):
        assert api.profile(user_id)["userId"] == user_id
        assert len(api.events(user_id)["events"]) == 1


def test_stats_counts_pending_until_processed(api: Harness) -> None:
    api.post("/bulk-users", {"users": [{"userId": f"u{i}"} for i in range(5)]})
    api.post("/events", {"anonymousId": "a", "eventName": "E"})
    assert api.data("/stats") == {"users": 0, "anonymousUsers": 0, "events": 0, "pending": 6, "deadLetters": 0}
    api.drain()
    assert api.data("/stats") == {"users": 5, "anonymousUsers": 1, "events": 1, "pending": 0, "deadLetters": 0}


def test_rejections_filter_and_paging(api: Harness) -> None:
    for i in range(3):
        api.post("/users", {"userId": f"u{i}", "attributes": {"we_x": i}})
    api.drain()
    assert len(api.data("/rejections")["rejections"]) == 3
    only = api.data("/rejections", params={"userId": "u1"})["rejections"]
    assert [r["userId"] for r in only] == ["u1"]
    first = api.data("/rejections", params={"limit": 2})
    assert len(first["rejections"]) == 2 and first["next"]
    rest = api.data("/rejections", params={"limit": 2, "cursor": first["next"]})
    assert len(rest["rejections"]) == 1 and rest["next"] is None


def test_page_sizes_are_ascii_digits(api: Harness) -> None:
    """str.isdigit() takes "²", "①" and "٣", which int() refuses: they answered 500."""
    api.post("/events", {"userId": "u", "eventName": "E"})
    api.drain()
    for path in ("/users/u/events", "/rejections", "/merges"):
        for limit in ("²", "①", "٣", "+5", " 5", "5 ", "1_0", "-1", "0", "1001", "99999999999999999999", ""):
            r = api.get(path, params={"limit": limit})
            assert r.status_code == 400, (path, limit, r.text)
            assert r.json()["response"]["message"] == "Error: limit must be a whole number from 1 to 1000."
        assert api.get(path, params={"limit": "1000"}).status_code == 200


def test_forged_cursors_are_400_never_500(api: Harness) -> None:
    import base64

    api.post("/events", {"userId": "u", "eventName": "E"})
    api.post("/users", {"userId": "u", "attributes": {"we_x": 1}})
    api.drain()

    def forge(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    events = [forge(f"{2**70}:1"), forge(f"1:{2**63}"), forge(f"{-(2**63) - 1}:1"), forge("1:2:3"), forge("1")]
    single = [forge(str(2**64)), forge(str(-(2**63) - 1)), forge("1:2"), forge("x"), forge("+1"), forge("١")]
    garbage = ["!!", "é", "%00", "=" * 5, "a" * 5000]
    cases = [("/users/u/events", c) for c in events + garbage]
    cases += [(p, c) for p in ("/rejections", "/merges") for c in single + garbage]
    for path, cursor in cases:
        r = api.get(path, params={"cursor": cursor})
        assert r.status_code == 400, (path, cursor, r.text)
        assert "cursor is not valid" in r.json()["response"]["message"]
    # the extremes of the range are valid cursors (nothing before them)
    assert api.events("u", cursor=forge(f"{-(2**63)}:{-(2**63)}"))["events"] == []
    assert api.data("/rejections", params={"cursor": forge(str(2**63 - 1))})["rejections"] != []


def test_a_user_id_ending_in_events(api: Harness) -> None:
    """`users/x%2Fevents` is the profile of the user `x/events`; `users/x%2Fevents/events` its events;
    `users/x/events` the events of `x`."""
    api.post("/users", {"userId": "x/events", "firstName": "Slash"})
    api.post("/events", {"userId": "x/events", "eventName": "OfSlash"})
    api.post("/users", {"userId": "x", "firstName": "Plain"})
    api.post("/events", {"userId": "x", "eventName": "OfX"})
    api.post("/users", {"userId": "events", "firstName": "Named events"})
    api.drain()
    assert api.data("/users/x%2Fevents")["firstName"] == "Slash"
    assert [e["eventName"] for e in api.data("/users/x%2Fevents/events")["events"]] == ["OfSlash"]
    assert [e["eventName"] for e in api.data("/users/x/events")["events"]] == ["OfX"]
    assert api.data("/users/x")["firstName"] == "Plain"
    assert api.data("/users/events")["firstName"] == "Named events"
    assert api.data("/users/x%2fevents")["firstName"] == "Slash"  # lower-case escapes too
    assert api.get("/users/y%2Fevents").json()["response"]["message"] == "Error: no user 'y/events' in this account."
    assert api.get("/users/y/events").json()["response"]["message"] == "Error: no user 'y' in this account."
    assert api.profile("x/events")["userId"] == "x/events"  # the harness percent-encodes every character
    assert api.data("/users/x%2Fevents", params={"format": "json"})["userId"] == "x/events"


def test_nul_in_read_paths_and_queries_is_refused_not_a_500(api: Harness) -> None:
    for path in ("/users/%00", "/users/a%00b/events", "/anonymous-users/%00"):
        r = api.get(path)
        assert r.status_code == 404, (path, r.text)
    r = api.get("/rejections", params={"userId": "a\x00"})
    assert r.status_code == 400 and "NUL" in r.json()["response"]["message"]
