"""MoEngage rate limits: per account, per record, moengage-users and moengage-events; bulk charges both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import moengage_fixtures as fx
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_fail, assert_success

pytestmark = pytest.mark.usefixtures("steady_rate_window")


@pytest.fixture
def limited(database_url: str) -> Iterator[Harness]:
    with Harness(database_url, limits={"moengage-users": 2, "moengage-events": 3}) as harness:
        yield harness


def events(user: str, n: int) -> dict[str, Any]:
    return {"type": "event", "customer_id": user, "actions": [{"action": f"E{i}"} for i in range(n)]}


def assert_limited(r: Any, limit: int, remaining: int) -> None:
    assert_fail(r, 429, "Rate Limit Exceeded", "Rate Limits for User / Event exceeded")
    assert r.headers["x-ratelimit-limit"] == str(limit)
    assert r.headers["x-ratelimit-remaining"] == str(remaining)
    reset = int(r.headers["x-ratelimit-reset"])
    assert 1 <= reset <= 60
    assert r.headers["Retry-After"] == str(reset)


def test_user_updates_are_limited_per_account(limited: Harness) -> None:
    moe = Moe(limited)
    first = moe.customer(fx.body(fx.USER, customer_id="u1"))
    assert_success(first)
    assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("2", "1")
    assert_success(moe.device(fx.body(fx.DEVICE, customer_id="u1")))  # devices count as user updates
    assert_limited(moe.customer(fx.body(fx.USER, customer_id="u3")), 2, 0)
    assert_limited(moe.delete({"identity_type": "customer_id", "identity_value": "u1"}), 2, 0)
    limited.drain()
    assert limited.data("/stats")["users"] == 1  # the refused requests stored nothing
    assert limited.get("/users/u3").status_code == 404


def test_events_are_counted_per_action(limited: Harness) -> None:
    moe = Moe(limited)
    r = moe.event(events("e", 2))
    assert_success(r)
    assert r.headers["x-ratelimit-remaining"] == "1"
    assert_limited(moe.event(events("e", 2)), 3, 1)
    assert_success(moe.event(events("e", 1)))
    limited.drain()
    assert len(limited.events("e")["events"]) == 3


def test_bulk_charges_both_buckets(limited: Harness) -> None:
    moe = Moe(limited)
    r = moe.bulk(fx.BULK)  # two user updates (customer + device) and two events
    assert_success(r)
    assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == ("3", "1")
    assert_limited(moe.customer(fx.body(fx.USER, customer_id="other")), 2, 0)
    assert_limited(moe.event(events("e", 2)), 3, 1)
    assert_limited(moe.bulk(fx.BULK), 3, 1)  # the events bucket is checked first
    assert_success(moe.event(events("e", 1)))


def test_dialects_have_separate_budgets(limited: Harness) -> None:
    moe = Moe(limited)
    for user in ("a", "b"):
        assert_success(moe.customer(fx.body(fx.USER, customer_id=user)))
    assert_limited(moe.customer(fx.body(fx.USER, customer_id="c")), 2, 0)
    r = limited.post("/users", {"userId": "c"})
    assert r.status_code == 201
    assert r.headers["X-RateLimit-Limit"] == "5000"


def test_default_limits_and_unlimited(database_url: str) -> None:
    with Harness(database_url, limits={"moengage-events": 0}) as harness:
        moe = Moe(harness)
        r = moe.event(events("e", 1))
        assert_success(r)
        assert "x-ratelimit-limit" not in r.headers
        r = moe.customer(fx.USER)
        assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == ("10000", "9999")
