"""GDPR erasures, run by the processor process: every few seconds, the erasures that are due.

The work is the store's (`Store.erase_due`, store/gdpr.py: one transaction per request, audited); this
loop only calls it. Every node's processor runs it: a request is erased by exactly one of them (on
PostgreSQL the request's row is locked with SKIP LOCKED), and an erasure that a crash interrupts is
rolled back and runs again. A request stays PROCESSING while its account still has older records
pending in the ingest log, so nothing accepted before the erasure fell due can re-create the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store.base import Erasure, Store

log = logging.getLogger("openengage.processor")

ERASE_EVERY = 2.0  # seconds between looks for due erasures


async def once(store: Store, now: int | None = None) -> list[Erasure]:
    """Run every erasure due now (or at `now`); the ones done."""
    done: list[Erasure] = []
    while True:
        batch = await store.erase_due(now_ms() if now is None else now)
        done += batch
        if not batch:
            return done


async def run(store: Store, stop: asyncio.Event, every: float = ERASE_EVERY) -> None:
    """Until `stop` is set. An outage or a failure is logged and tried again later, never fatal."""
    failing = False
    while not stop.is_set():
        try:
            await once(store)
            failing = False
        except StoreUnavailable as exc:
            if not failing:
                log.warning("GDPR erasures wait for the store: %s", exc, extra={"action": "gdpr_erasure_retry"})
            failing = True
        except Exception:
            log.exception("GDPR erasures failed; trying again later", extra={"action": "gdpr_erasure_retry"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
