"""Outbox retention: transactions are deleted `outbox_retention_days` after their ttl (and dedupe window)
ended, with their messages and attempts, so the outbox cannot grow without bound.

By then every message of a transaction is sent, failed, expired or skipped: the sender never sends after
the ttl. `GET /v2/accounts/{lc}/transactions/{txnId}` answers 404 for a pruned transaction. The
processor process runs this loop next to the erasures (every node: deletes of different batches, or
of nothing, are harmless; PostgreSQL skips rows another node is deleting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store.base import Store

log = logging.getLogger("openengage.outbox")

DAY_MS = 86_400_000
PRUNE_EVERY = 60.0  # seconds between rounds
BATCH = 1000  # transactions a commit deletes: short commits, so ingest and the sender never wait long


def cutoff(now: int, days: int) -> int:
    """Transactions whose ttl ended before this are deleted."""
    return now - days * DAY_MS


async def once(store: Store, days: int, now: int | None = None, batch: int = BATCH) -> int:
    """Delete every transaction past retention at `now`; the number deleted."""
    before = cutoff(now_ms() if now is None else now, days)
    total = 0
    while True:
        n = await store.prune_outbox(before, batch)
        total += n
        if n < batch:
            return total


async def run(store: Store, stop: asyncio.Event, days: int, every: float = PRUNE_EVERY) -> None:
    """Until `stop` is set. An outage or a failure is logged and tried again next round, never fatal."""
    while not stop.is_set():
        try:
            n = await once(store, days)
            if n:
                log.info("outbox retention: %d transactions deleted", n, extra={"action": "outbox_prune"})
        except StoreUnavailable as exc:
            log.warning("outbox retention waits for the store: %s", exc, extra={"action": "outbox_prune_retry"})
        except Exception:
            log.exception("outbox retention failed; trying again later", extra={"action": "outbox_prune_retry"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
