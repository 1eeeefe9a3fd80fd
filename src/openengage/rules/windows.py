"""Fixed one-minute rate-limit windows: which window a moment falls in, and how long until it ends."""

from __future__ import annotations

WINDOW_MS = 60_000


def window_of(now_ms: int) -> int:
    return now_ms // WINDOW_MS


def reset_seconds(now_ms: int) -> int:
    """Seconds until the current one-minute window ends (at least 1)."""
    return max(1, -(-(WINDOW_MS - now_ms % WINDOW_MS) // 1000))
