"""Per-minute charts as plain numbers for an SVG template: no script, no inline style, nothing from a client.

`minute_chart` turns the store's per-minute rows into polyline points (a fixed viewBox, scaled to the
largest value) plus the rows themselves, which the template also shows as a table for screen readers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from openengage.store.base import Minute

MINUTE_MS = 60_000
WIDTH, HEIGHT, PAD = 600, 160, 24


@dataclasses.dataclass(frozen=True)
class Chart:
    minutes: list[Minute]  # every minute of the span, oldest first, zeros filled in
    accepted: str  # SVG polyline points
    processed: str
    top: int  # the value at the top of the scale
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def total_accepted(self) -> int:
        return sum(m.accepted for m in self.minutes)

    @property
    def total_processed(self) -> int:
        return sum(m.processed for m in self.minutes)


def _nice(n: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at or above n (a readable top of the scale)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= n:
                return step * m
        step *= 10


def minute_chart(rows: Sequence[Minute], now_ms: int, minutes: int = 60) -> Chart:
    """The last `minutes` whole minutes up to the one holding `now_ms`."""
    last = now_ms - now_ms % MINUTE_MS
    first = last - (minutes - 1) * MINUTE_MS
    by_minute = {r.at: r for r in rows}
    span = [by_minute.get(at, Minute(at, 0, 0)) for at in range(first, last + 1, MINUTE_MS)]
    top = _nice(max([1, *(m.accepted for m in span), *(m.processed for m in span)]))
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def points(values: list[int]) -> str:
        step = inner_w / max(1, len(values) - 1)
        return " ".join(f"{PAD + i * step:.1f},{PAD + inner_h - inner_h * v / top:.1f}" for i, v in enumerate(values))

    return Chart(span, points([m.accepted for m in span]), points([m.processed for m in span]), top)
