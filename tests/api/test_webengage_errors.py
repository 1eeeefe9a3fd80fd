"""WebEngage dialect: structural errors (sync, vendor container, nothing stored), auth, limits, formats."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import seeds
from tests.support.harness import Harness


def message(r: Any) -> str:
    body = r.json()["response"]
    assert body["status"] == "error"
    return str(body["message"])


def assert_nothing_stored(api: Harness) -> None:
    assert api.data("/stats")["pending"] == 0
    api.drain()
    assert api.data("/stats") == {"users": 0, "anonymousUsers": 0, "events": 0, "pending": 0, "deadLetters": 0}


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/users", {"firstName": "x"}, "Error: userId and anonymousId cannot be empty."),
        ("/events", {"eventName": "x"}, "Error: userId and anonymousId cannot be empty."),
        ("/users", {"userId": "", "anonymousId": None}, "Error: userId and anonymousId cannot be empty."),
        ("/users", {"userId": 12}, "userId must be a string"),
        ("/users", {"userId": "u" * 101}, "userId can be of maximum 100 characters"),
        ("/users", {"anonymousId": "a" * 101}, "anonymousId can be of maximum 100 characters"),
        ("/users", {"userId": "u", "birthDate": "19/08/1986"}, "birthDate '19/08/1986' is not a valid date"),
        ("/users", {"userId": "u", "gender": "robot"}, "gender must be one of male, female or other"),
        ("/users", {"userId": "u", "phone": "9876543210"}, "phone must be in E.164 format"),
        ("/users", {"userId": "u", "emailOptIn": "yes"}, "emailOptIn must be a boolean"),
        ("/users", {"userId": "u", "firstName": 5}, "firstName must be a string"),
        ("/users", {"userId": "u", "attributes": [1]}, "attributes must be a JSON object"),
        ("/events", {"userId": "u"}, "Error: eventName cannot be empty."),
        ("/events", {"userId": "u", "eventName": 3}, "eventName must be a string"),
        ("/events", {"userId": "u", "eventName": "e" * 50}, "eventName must be less than 50 characters long"),
        ("/events", {"userId": "u", "eventName": "app_installed"}, "system event"),
        (
            "/events",
            {"userId": "u", "eventName": "x", "eventTime": "yesterday"},
            "eventTime 'yesterday' is not a valid date",
        ),
        ("/events", {"userId": "u", "eventName": "x", "eventData": [1, 2]}, "eventData must be a JSON object"),
        ("/users", [seeds.USER], "request body must be a JSON object"),
    ],
)
def test_structural_errors_name_the_field_and_store_nothing(api: Harness, path: str, body: Any, expected: str) -> None:
    r = api.post(path, body)
    assert r.status_code == 400
    assert expected in message(r)
    assert_nothing_stored(api)


def test_malformed_and_empty_json(api: Harness) -> None:
    r = api.post("/events", content=b'{"userId": "u",')
    assert r.status_code == 400 and "not valid JSON" in message(r)
    r = api.post("/events", content=b"")
    assert r.status_code == 400 and "empty" in message(r)
    r = api.post("/events", content=b'{"userId": "\xff", "eventName": "x"}')
    assert r.status_code == 400 and "not UTF-8" in message(r)


def test_bulk_refused_whole_with_each_bad_record_by_index(api: Harness) -> None:
    events = [seeds.EVENT, {"eventName": "x"}, seeds.EVENT, {"userId": "u", "eventName": "x", "eventTime": "no"}]
    r = api.post("/bulk-events", {"events": events})
    assert r.status_code == 400
    body = r.json()["response"]
    assert "2 of 4 records are invalid" in body["message"]
    assert "events[1]: userId and anonymousId cannot be empty." in body["message"]
    assert [e["index"] for e in body["errors"]] == [1, 3]
    assert_nothing_stored(api)


@pytest.mark.parametrize("count", [0, 26])
def test_bulk_takes_1_to_25_records(api: Harness, count: int) -> None:
    r = api.post("/bulk-users", {"users": [seeds.USER] * count})
    assert r.status_code == 400 and "1 to 25 records" in message(r)
    assert api.post("/bulk-users", {"users": [seeds.USER] * 25}).status_code == 201


def test_bulk_needs_its_array(api: Harness) -> None:
    r = api.post("/bulk-events", {"users": [seeds.USER]})
    assert r.status_code == 400 and "events must be an array" in message(r)


def test_unknown_license_code_is_404(api: Harness) -> None:
    r = api.post("/users", seeds.USER, lc="~nope1234")
    assert r.status_code == 404 and "license code" in message(r)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer wrong-key"}],
)
def test_missing_or_wrong_key_is_401(api: Harness, headers: dict[str, str]) -> None:
    url = f"/v1/accounts/{api.lc}/users"
    r = api.client.post(url, json=seeds.USER, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 401 and "Unauthorized" in message(r)
    assert_nothing_stored(api)


def test_content_type_must_be_json(api: Harness) -> None:
    r = api.post("/users", content=b'{"userId":"u"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "Content-Type" in message(r)
    r = api.post("/users", content=b'{"userId":"u"}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201


def test_body_over_the_limit_is_413(api: Harness) -> None:
    big = {"userId": "u", "attributes": {"blob": "x" * (api.settings.max_body_bytes + 10)}}
    r = api.post("/users", big)
    assert r.status_code == 413 and "exceeds" in message(r)
    assert_nothing_stored(api)


def test_xml_format_for_success_and_errors(api: Harness) -> None:
    r = api.post("/users", seeds.USER, params={"format": "xml"})
    assert r.status_code == 201
    assert r.headers["content-type"].startswith("application/xml")
    assert r.text == '<?xml version="1.0" encoding="UTF-8"?><response><status>queued</status></response>'
    r = api.post("/users", {}, params={"format": "xml"})
    assert r.status_code == 400
    assert "<message>Error: userId and anonymousId cannot be empty.</message><status>error</status>" in r.text
    api.drain()
    r = api.get("/users/johndoe", params={"format": "xml"})
    assert '<entry key="Twitter username">@origjohndoe86</entry>' in r.text
    assert api.post("/users", seeds.USER, params={"format": "yaml"}).status_code == 400


def test_unknown_route_answers_in_the_container(api: Harness) -> None:
    r = api.post("/transactions", {})
    assert r.status_code == 404 and r.json()["response"]["status"] == "error"
