"""The processor's retry policy, in numbers (the behaviour against real stores is in tests/test_dead_letters.py)."""

from __future__ import annotations

from openengage.processor.worker import CONTENTION_MAX, UNAVAILABLE_MAX, contention_pause, describe, unavailable_pause


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
