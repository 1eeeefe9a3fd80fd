"""The processor's retry policy, in numbers (the behaviour against real stores is in tests/test_dead_letters.py)."""

from __future__ import annotations

import asyncio

import pytest

from openengage.processor import worker as worker_module
from openengage.processor.worker import (
    CONTENTION_MAX,
    UNAVAILABLE_MAX,
    Worker,
    contention_pause,
    describe,
    unavailable_pause,
)


def test_retry_pauses_stay_bounded_however_long_a_fault_lasts() -> None:
    for attempt in (1, 2, 10, 1100, 10**6):  # an outage or a conflict of any length: never an overflow
        assert 0 < contention_pause(attempt) <= CONTENTION_MAX * 1.5
        assert 0 < unavailable_pause(attempt) <= UNAVAILABLE_MAX
    assert unavailable_pause(1) == 0.1 and unavailable_pause(2) == 0.2


def test_a_dead_letter_keeps_the_error_type_and_a_storable_message() -> None:
    assert describe(OverflowError("Python int too large")) == ("OverflowError", "Python int too large")
    name, message = describe(ValueError("bad \x00 value " + "x" * 5000))
    assert name == "ValueError" and "\x00" not in message and "\\u0000" in message and len(message) <= 2001
    assert describe(KeyError())[1] == "KeyError"  # never an empty message

    class Custom(Exception):
        pass

    assert (
        describe(Custom("c"))[0]
        == f"{__name__}.test_a_dead_letter_keeps_the_error_type_and_a_storable_message.<locals>.Custom"
    )


def test_a_small_claim_lingers_a_full_one_claims_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a claim of under half a batch the lane waits `linger` (the next gathers more); after a full
    claim it claims again at once (a backlog); with nothing to claim it waits the poll interval."""
    stop = asyncio.Event()
    script: list[int | None] = [3, 1000, 999, 2000, None, 0]
    waits: list[float] = []

    class Scripted(Worker):
        async def step(self) -> int | None:
            if not script:
                stop.set()
                return None
            return script.pop(0)

    async def sleep(event: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(worker_module, "_sleep", sleep)

    class NoStore:
        processing_lanes = 1

        async def maintain(self, now: int) -> None:
            return None

    async def lane() -> None:
        await Scripted(NoStore(), batch_records=2000)._lane(stop, 0.05, 0.025)  # type: ignore[arg-type]

    asyncio.run(lane())
    # 3: linger; 1000: half a batch, at once; 999: linger; 2000: at once; None: poll; 0 (all dead-lettered): linger
    assert waits == [0.025, 0.025, 0.05, 0.025, 0.05]
