"""What a failed attempt leads to, per mode; the retry pauses."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

import pytest

from openengage.errors import StoreUnavailable
from openengage.messaging.sender import RETRY_MAX, Sender, after_failure, retry_pause
from openengage.store.base import Finish, Outgoing, Store


def message(mode: str = "single", expires_at: int = 100_000, attempts: int = 0) -> Outgoing:
    return Outgoing(1, 1, 1, "t", "u", mode, 0, 1, "~c", "email", attempts, 0, expires_at, {}, "me")


def test_a_transient_failure_is_retried_after_the_pause() -> None:
    f = after_failure(message(), "SMTP 451", False, 1000, 2.0)
    assert (f.status, f.next_at, f.promote, f.close) == ("queued", 3000, False, None)


def test_a_permanent_failure_fails_at_once() -> None:
    f = after_failure(message(), "SMTP 550", True, 1000, 2.0)
    assert (f.status, f.promote) == ("failed", False)


def test_a_retry_past_the_ttl_expires_the_message_and_the_chain() -> None:
    f = after_failure(message("fallback_on_delivery_failure", expires_at=2000), "x", False, 1000, 2.0)
    assert (f.status, f.close) == ("expired", "expired")


@pytest.mark.parametrize(
    ("mode", "permanent", "status", "promote"),
    [
        ("fallback_on_attempt_failure", False, "failed", True),  # its first failed attempt falls back
        ("fallback_on_attempt_failure", True, "failed", True),
        ("fallback_on_delivery_failure", False, "queued", False),  # retried until it fails for good
        ("fallback_on_delivery_failure", True, "failed", True),
        ("all", True, "failed", False),
        ("all", False, "queued", False),
    ],
)
def test_fallback_modes(mode: str, permanent: bool, status: str, promote: bool) -> None:
    f = after_failure(message(mode), "x", permanent, 1000, 1.0)
    assert (f.status, f.promote) == (status, promote)


def test_retry_pauses_grow_with_jitter_and_are_capped() -> None:
    for attempts in range(1, 40):
        base = min(RETRY_MAX, 2 ** (attempts - 1))
        for _ in range(20):
            assert base * 0.5 <= retry_pause(attempts) <= base
    assert retry_pause(1000) <= RETRY_MAX


class _FlakyRecorder:
    """A store whose commits of outcomes fail `failures` times (an outage), then succeed."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def finish_messages(self, outcomes: Sequence[tuple[Outgoing, Finish]]) -> list[bool]:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreUnavailable("the store is down")
        return [True for _ in outcomes]


@pytest.mark.anyio
async def test_recording_an_outcome_through_an_outage_backs_off() -> None:
    store = _FlakyRecorder(3)
    sender = Sender(cast(Store, store), lease_seconds=30)
    try:
        started = time.monotonic()
        await sender._finish(message(), Finish("sent", "sent", None, 0))
        took = time.monotonic() - started
    finally:
        await sender.close()
    assert store.calls == 4 and sender.sent == 1
    assert took >= 0.1 + 0.2 + 0.4 - 0.05  # paused 0.1, 0.2, 0.4 s between tries, never spinning
