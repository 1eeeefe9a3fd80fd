"""Admission: request-id de-duplication and per-minute limits, decided for a batch in order (pure)."""

from __future__ import annotations

from openengage.store.base import Submission
from openengage.store.common import REQUEST_ID_TTL_MS, Admission, reset_seconds, window_of


def sub(
    rid: str | None = None,
    cost: int = 1,
    limit: int = 3,
    bucket: str = "events",
    acc: int = 1,
    extra: tuple[tuple[str, int, int], ...] = (),
) -> Submission:
    return Submission(acc, bucket, cost, limit, b"[]", 1, rid, extra)


def test_limits_admit_exactly_n_per_window() -> None:
    adm = Admission(0, seen=lambda s: False, used=lambda a, b: 1)
    outcomes = adm.decide([sub(), sub(), sub()])
    assert [o.status for o in outcomes] == ["accepted", "accepted", "limited"]
    assert [o.remaining for o in outcomes] == [1, 0, 0]
    assert adm.counters == {(1, "events"): 3}
    assert len(adm.accepted) == 2


def test_per_record_costs_and_extra_buckets() -> None:
    adm = Admission(0, seen=lambda s: False, used=lambda a, b: 0)
    big = sub(cost=3, limit=5, bucket="moengage-users", extra=(("moengage-events", 10, 10),))
    outcomes = adm.decide([big, sub(cost=3, limit=5, bucket="moengage-users")])
    assert [o.status for o in outcomes] == ["accepted", "limited"]
    assert adm.counters == {(1, "moengage-users"): 3, (1, "moengage-events"): 10}


def test_duplicates_within_a_batch_and_from_the_store() -> None:
    adm = Admission(0, seen=lambda s: s.request_id == "old", used=lambda a, b: 0)
    outcomes = adm.decide([sub("a"), sub("a"), sub("old"), sub("a", acc=2)])
    assert [o.status for o in outcomes] == ["accepted", "duplicate", "duplicate", "accepted"]
    assert adm.request_ids == {(1, "a"), (2, "a")}
    assert adm.counters[(1, "events")] == 1  # duplicates cost nothing


def test_unlimited_buckets_are_not_counted() -> None:
    adm = Admission(0, seen=lambda s: False, used=lambda a, b: 10**9)
    assert adm.decide([sub(limit=0)])[0].status == "accepted"
    assert adm.counters == {}


def test_windows_and_reset() -> None:
    assert window_of(59_999) == 0 and window_of(60_000) == 1
    assert reset_seconds(0) == 60 and reset_seconds(59_500) == 1 and reset_seconds(30_000) == 30
    assert REQUEST_ID_TTL_MS == 4 * 3600 * 1000
