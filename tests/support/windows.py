"""Rate limits count per fixed minute (rules/windows.py): tests that count on one window wait for room."""

from __future__ import annotations

import time


def inside_one_window(seconds_needed: float = 3.0) -> None:
    """Return when at least `seconds_needed` are left in the current minute (sleeping into the next one
    if fewer are): call it right before the calls that must share a window."""
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.05)
