"""Business events (#10): definitions with typed attributes, save-event validated against them, stored and
listed; WebEngage's container, errors and the per-minute limits (creating 1, saving 500), on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest

from tests.support.harness import Harness
from tests.support.sql import rows

DEFINE = "/business/events/definition"
SAVE = "/business/save-event"

ORDER = {
    "eventName": "Order Shipped",
    "attributes": [
        {"attributeName": "orderId", "dataType": "string"},
        {"attributeName": "amount", "dataType": "number"},
        {"attributeName": "express", "dataType": "boolean"},
        {"attributeName": "shippedAt", "dataType": "date"},
        {"attributeName": "items", "dataType": "array"},
        {"attributeName": "address", "dataType": "map"},
    ],
    "eventCategory": "BUSINESS",
}
GOOD_DATA = {
    "orderId": "A-17",
    "amount": 129.5,
    "express": True,
    "shippedAt": "2019-01-05T13:06:56+0530",
    "items": ["shirt", 2],
    "address": {"city": "Pune"},
}


def v2(api: Harness, path: str, body: Any = None, *, content: bytes | None = None, **kw: Any) -> httpx.Response:
    headers = {"Content-Type": "application/json", **api.auth(kw.pop("key", None)), **kw.pop("headers", {})}
    url = f"/v2/accounts/{kw.pop('lc', api.lc)}{path}"
    if content is not None:
        return api.client.post(url, content=content, headers=headers, **kw)
    return api.client.post(url, json=body, headers=headers, **kw)


def read(api: Harness, path: str, **params: Any) -> httpx.Response:
    return api.client.get(f"/v2/accounts/{api.lc}{path}", headers=api.auth(), params=params)


def assert_error(r: httpx.Response, status: int, *fragments: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()["response"]
    assert body["status"] == "error"
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


@pytest.fixture
def api(database_url: str) -> Iterator[Harness]:
    """Definitions unlimited (the default is 1 per minute, tested on its own)."""
    with Harness(database_url, limits={"business-definitions": 0}) as harness:
        yield harness


def test_define_save_and_list(api: Harness, database_url: str) -> None:
    r = v2(api, DEFINE, ORDER)
    assert r.status_code == 201, r.text
    body = r.json()["response"]
    assert (body["status"], body["message"]) == ("success", "business event defined")
    data = body["data"]
    assert (data["eventName"], data["eventCategory"]) == ("Order Shipped", "BUSINESS")
    assert data["attributes"] == ORDER["attributes"]
    assert data["createdAt"] == data["updatedAt"] and data["createdAt"].endswith("+0000")

    r = v2(api, SAVE, {"eventName": "Order Shipped", "eventTime": "2019-01-05T13:06:56+0530", "eventData": GOOD_DATA})
    assert r.status_code == 201, r.text
    saved = r.json()["response"]["data"]
    assert (saved["eventName"], saved["eventTime"], saved["eventData"]) == (
        "Order Shipped",
        "2019-01-05T13:06:56+0530",
        GOOD_DATA,
    )
    # Durable and in the store as sent (a 2xx only once committed).
    ((name, time_ms, stored_text),) = rows(database_url, "SELECT name, time_ms, time_text FROM business_events")
    assert (name, time_ms, stored_text) == ("Order Shipped", 1546673816000, "2019-01-05T13:06:56+0530")

    # Every attribute optional, eventTime too (then the time it was received).
    r = v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"amount": 1}})
    assert r.status_code == 201, r.text
    assert r.json()["response"]["data"]["eventTime"] == r.json()["response"]["data"]["receivedAt"]

    listed = read(api, "/business/events").json()["response"]["data"]["definitions"]
    assert [(d["eventName"], d["savedEvents"]) for d in listed] == [("Order Shipped", 2)]
    one = read(api, f"/business/events/{quote('Order Shipped')}").json()["response"]["data"]
    assert one["attributes"] == ORDER["attributes"] and "savedEvents" not in one
    events = read(api, f"/business/events/{quote('Order Shipped')}/events").json()["response"]["data"]
    assert [e["eventData"] for e in events["events"]] == [{"amount": 1}, GOOD_DATA]  # newest first
    assert events["next"] is None


def test_saved_events_page_newest_first(api: Harness) -> None:
    assert (
        v2(api, DEFINE, {"eventName": "Tick", "attributes": [{"attributeName": "n", "dataType": "number"}]}).status_code
        == 201
    )
    for n in range(5):
        when = f"2024-01-0{n + 1}T00:00:00+0000"
        assert v2(api, SAVE, {"eventName": "Tick", "eventTime": when, "eventData": {"n": n}}).status_code == 201
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = read(api, "/business/events/Tick/events", **params).json()["response"]["data"]
        seen += [e["eventData"]["n"] for e in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [4, 3, 2, 1, 0]
    assert_error(read(api, "/business/events/Tick/events", cursor="bogus"), 400, "cursor is not valid")
    assert_error(read(api, "/business/events/Nope/events"), 404, "no business event 'Nope'")
    assert_error(read(api, "/business/events/Nope"), 404)


def test_names_with_any_character(api: Harness) -> None:
    name = "a/b events"
    body = {"eventName": name, "attributes": [{"attributeName": "x.y", "dataType": "string"}]}
    assert v2(api, DEFINE, body).status_code == 201
    assert v2(api, SAVE, {"eventName": name, "eventData": {"x.y": "z"}}).status_code == 201
    assert read(api, f"/business/events/{quote(name, safe='')}").json()["response"]["data"]["eventName"] == name
    page = read(api, f"/business/events/{quote(name, safe='')}/events").json()["response"]["data"]
    assert [e["eventData"] for e in page["events"]] == [{"x.y": "z"}]
    # A definition may even be called "definition": GET reads it, POST still defines.
    assert v2(api, DEFINE, {"eventName": "definition"}).status_code == 201
    assert read(api, "/business/events/definition").json()["response"]["data"]["eventName"] == "definition"


def test_a_definition_posted_again_may_add_attributes_but_never_change_them(api: Harness) -> None:
    assert v2(api, DEFINE, ORDER).status_code == 201
    same = v2(api, DEFINE, ORDER)
    assert same.status_code == 200, same.text
    assert same.json()["response"]["data"]["attributes"] == ORDER["attributes"]
    more = ORDER | {"attributes": [*ORDER["attributes"], {"attributeName": "carrier", "dataType": "string"}]}
    r = v2(api, DEFINE, more)
    assert r.status_code == 200
    assert [a["attributeName"] for a in r.json()["response"]["data"]["attributes"]][-1] == "carrier"
    assert v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"carrier": "DHL"}}).status_code == 201
    changed = ORDER | {"attributes": [{**ORDER["attributes"][0], "dataType": "number"}, *ORDER["attributes"][1:]]}
    assert_error(v2(api, DEFINE, changed), 409, "'orderId' is defined as string and cannot become number")
    assert_error(v2(api, DEFINE, ORDER), 409, "attribute 'carrier' is defined and cannot be removed")


def test_definitions_are_validated(api: Harness) -> None:
    attr = {"attributeName": "a", "dataType": "string"}
    cases: list[tuple[Any, str]] = [
        ({"attributes": []}, "eventName is required"),
        ({"eventName": 5}, "eventName must be a string"),
        ({"eventName": "we_internal"}, "cannot start with 'we_'"),
        ({"eventName": "x" * 50}, "must be less than 50 characters"),
        ({"eventName": "E", "eventCategory": "USER"}, "eventCategory must be 'BUSINESS'"),
        ({"eventName": "E", "attributes": {"a": "string"}}, "attributes must be an array"),
        ({"eventName": "E", "attributes": ["a"]}, "attributes[0] must be an object"),
        (
            {"eventName": "E", "attributes": [{"attributeName": "a", "dataType": "text"}]},
            "attributes[0].dataType must be one of",
        ),
        ({"eventName": "E", "attributes": [{"dataType": "string"}]}, "attributes[0].attributeName is required"),
        ({"eventName": "E", "attributes": [attr, attr]}, "attribute 'a' is defined twice"),
        ({"eventName": "E", "attributes": [attr | {"required": True}]}, "unknown field 'required' in attributes[0]"),
        ({"eventName": "E", "extra": 1}, "unknown field 'extra' in the definition"),
        ({"eventName": "E\x00"}, "contains the NUL character"),
        (
            {"eventName": "E", "attributes": [{"attributeName": f"n{i}", "dataType": "number"} for i in range(26)]},
            "at most 25 attributes of type number",
        ),
        ([ORDER], "request body must be a JSON object"),
    ]
    for body, fragment in cases:
        assert_error(v2(api, DEFINE, body), 400, fragment)
    assert_error(v2(api, DEFINE, content=b"{oops"), 400, "not valid JSON")
    assert_error(v2(api, DEFINE, content=b"[" * 70 + b"]" * 70), 400, "nested too deeply")
    assert read(api, "/business/events").json()["response"]["data"]["definitions"] == []
    # The data type is matched ignoring case and stored lowercase; the category may be omitted.
    r = v2(api, DEFINE, {"eventName": "Cased", "attributes": [{"attributeName": "a", "dataType": "Number"}]})
    assert r.json()["response"]["data"]["attributes"] == [{"attributeName": "a", "dataType": "number"}]


def test_saved_events_are_validated_against_their_definition(api: Harness) -> None:
    assert v2(api, DEFINE, ORDER).status_code == 201
    wrong = {
        "orderId": (17, "eventData.orderId (string) must be a string, not a number"),
        "amount": ("12", "eventData.amount (number) must be a number, not a string"),
        "express": (1, "eventData.express (boolean) must be a boolean, not a number"),
        "shippedAt": ("soon", "eventData.shippedAt (date) must be a date"),
        "items": ({"a": 1}, "eventData.items (array) must be an array, not an object"),
        "address": ([1], "eventData.address (map) must be a JSON object (map), not an array"),
    }
    for attribute, (value, message) in wrong.items():
        assert_error(v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {attribute: value}}), 400, message)
    assert_error(
        v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"amount": True}}),
        400,
        "must be a number, not a boolean",
    )
    assert_error(v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"amount": None}}), 400, "not null")
    assert_error(
        v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"colour": "red"}}),
        400,
        "eventData.colour is not an attribute of business event 'Order Shipped' (defined: orderId, amount",
    )
    assert_error(
        v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"orderId": "x" * 1000}}),
        400,
        "at most 999 characters",
    )
    assert_error(v2(api, SAVE, {"eventName": "Order Shipped", "eventTime": "tomorrow"}), 400, "eventTime 'tomorrow'")
    assert_error(
        v2(api, SAVE, {"eventName": "Order Shipped", "eventTime": "9999-12-31T23:59:59-2359"}),
        400,
        "outside the supported",
    )
    assert_error(
        v2(api, SAVE, {"eventName": "Order Shipped", "eventData": [1]}), 400, "eventData must be a JSON object"
    )
    assert_error(v2(api, SAVE, {"eventData": {}}), 400, "eventName is required")
    assert_error(v2(api, SAVE, {"eventName": "Order Shipped", "userId": "u"}), 400, "unknown field 'userId'")
    assert_error(
        v2(api, SAVE, {"eventName": "Order Shipped", "eventData": {"orderId": "a\x00"}}),
        400,
        "eventData.orderId contains the NUL",
    )
    assert_error(
        v2(api, SAVE, {"eventName": "Never Defined", "eventData": {}}),
        404,
        "no business event 'Never Defined' is defined; define it first",
    )
    page = read(api, f"/business/events/{quote('Order Shipped')}/events").json()["response"]["data"]
    assert page["events"] == []  # nothing refused was stored


def test_auth_content_type_size_and_xml(api: Harness) -> None:
    assert_error(v2(api, DEFINE, ORDER, key="wrong"), 401, "Unauthorized")
    assert_error(v2(api, DEFINE, ORDER, lc="~nobody"), 404, "no account")
    assert_error(v2(api, DEFINE, content=b"{}", headers={"Content-Type": "text/plain"}), 415, "Content-Type")
    assert_error(v2(api, SAVE, content=b"{" + b" " * (api.settings.max_body_bytes + 1) + b"}"), 413)
    assert api.client.get(f"/v2/accounts/{api.lc}/business/events", headers=api.auth("wrong")).status_code == 401
    r = v2(api, DEFINE, ORDER, params={"format": "xml"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/xml")
    assert b"<eventName>Order Shipped</eventName>" in r.content


@pytest.fixture
def defaults(database_url: str) -> Iterator[Harness]:
    with Harness(database_url, limits={"business-events": 2}) as harness:
        yield harness


@pytest.mark.usefixtures("steady_rate_window")
def test_limits_creating_one_per_minute_saving_per_minute(defaults: Harness) -> None:
    api = defaults
    first = v2(api, DEFINE, {"eventName": "One"})
    assert first.status_code == 201
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("1", "0")
    invalid = v2(api, DEFINE, {"eventName": ""})  # refused: costs nothing, shows the last count
    assert invalid.status_code == 400 and invalid.headers["X-RateLimit-Remaining"] == "0"
    over = v2(api, DEFINE, {"eventName": "Two"})
    assert_error(over, 429, "rate limit of 1 business event definitions per minute exceeded")
    assert 1 <= int(over.headers["Retry-After"]) <= 60 and over.headers["X-RateLimit-Remaining"] == "0"
    assert read(api, "/business/events/Two").status_code == 404  # nothing of it happened

    assert v2(api, SAVE, {"eventName": "One"}).headers["X-RateLimit-Remaining"] == "1"
    assert v2(api, SAVE, {"eventName": "Nope"}).status_code == 404  # refused: costs nothing
    assert v2(api, SAVE, {"eventName": "One"}).headers["X-RateLimit-Remaining"] == "0"
    assert_error(v2(api, SAVE, {"eventName": "One"}), 429, "rate limit of 2 business events per minute")
    listed = read(api, "/business/events").json()["response"]["data"]["definitions"]
    assert [(d["eventName"], d["savedEvents"]) for d in listed] == [("One", 2)]


def test_the_default_limit_for_saving_is_500(api: Harness) -> None:
    assert v2(api, DEFINE, {"eventName": "E"}).status_code == 201
    assert v2(api, SAVE, {"eventName": "E"}).headers["X-RateLimit-Limit"] == "500"
