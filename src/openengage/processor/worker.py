"""The processor loop: claim, plan, apply, acknowledge; repeat. Runs in its own process under `serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from openengage import metrics
from openengage.processor.planner import Planner
from openengage.rules.dates import now_ms
from openengage.store.base import Store

log = logging.getLogger("openengage.processor")

MAINTAIN_EVERY = 5.0
# Transient failures (a lock held too long, a dropped connection): wait and try the batch again; the
# entries stay unacknowledged, so nothing is lost or applied twice.
RETRY_DELAY = 0.5


async def drain(store: Store, batch_records: int = 2000) -> int:
    """Apply everything pending now; returns the number of records applied. Used by tests and `--burst`."""
    planner = Planner()
    total = 0
    while True:
        n = await store.process(planner, batch_records)
        metrics.PROCESSED.inc(n)  # committed: process() returns after its transaction
        if n == 0:
            return total
        total += n


async def run(store: Store, stop: asyncio.Event, batch_records: int, poll_interval: float) -> None:
    planner = Planner()
    last_maintain = 0.0
    applied = 0
    log.info("processor started", extra={"action": "processor_start"})
    while not stop.is_set():
        try:
            n = await store.process(planner, batch_records)
            metrics.PROCESSED.inc(n)  # committed: process() returns after its transaction
            if time.monotonic() - last_maintain > MAINTAIN_EVERY:
                await store.maintain(now_ms())
                last_maintain = time.monotonic()
        except Exception:
            log.exception("processing failed; retrying", extra={"action": "processor_retry"})
            n = 0
            await asyncio.sleep(RETRY_DELAY)
        applied += n
        if n == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_interval)
    log.info("processor stopped after %d records", applied, extra={"action": "processor_stop"})
