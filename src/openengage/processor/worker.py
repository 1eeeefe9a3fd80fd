"""The processor loop: claim → load → plan → write → acknowledge; retries and dead letters. One place.

Each lane (`Store.processing_lanes` of them run at once) repeats: claim the oldest pending entries
(`Store.claim`), decode them, load the State the Planner asks for, plan (pure), write the Effects and
acknowledge the entries, in one transaction. What goes wrong is sorted here, never in a backend:

- `StoreUnavailable` (the database cannot be reached or cannot commit): nothing was acknowledged;
  back off (0.1 s doubling to 5 s) and claim the same entries again. Never a dead letter.
- `Contention` (another processor touched the same rows): retry at once, after a short jittered pause.
- anything else (the Planner raised, an entry cannot be decoded, the database refused a value): the
  unit is rolled back and split in halves, still inside the claim, until the failing entry is alone;
  that entry moves to the dead letters with its error, acknowledged in the same commit, and the rest
  of the claim is applied in whole units again (also once past the failed range, when the failure
  did not come back: then nothing is dead-lettered). One bad entry costs about 2·log2(batch) extra
  transactions and never blocks other entries or accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence

from openengage import metrics
from openengage.errors import StoreUnavailable
from openengage.processor.planner import Planner
from openengage.records import decode_records
from openengage.rules.dates import now_ms
from openengage.store.base import Claim, Contention, LogEntry, QueuedEntry, Store

log = logging.getLogger("openengage.processor")

MAINTAIN_EVERY = 5.0
UNAVAILABLE_FIRST = 0.1  # seconds before the first retry when the store is unavailable; doubles
UNAVAILABLE_MAX = 5.0
CONTENTION_MAX = 0.5
CONTENTION_WARN = 20  # conflicts in a row before each warning
BUG_DELAY = 0.5  # an error outside any unit of work (a bug, or the claim itself failing oddly)
MESSAGE_MAX = 2000  # characters of an error message kept with a dead letter


def contention_pause(attempt: int) -> float:
    """Seconds before retry `attempt` (1, 2, ...): short, jittered, so contenders spread out."""
    return float(min(CONTENTION_MAX, 0.005 * 2 ** min(attempt, 20)) * (0.5 + random.random()))


def unavailable_pause(attempt: int) -> float:
    """Seconds before retry `attempt` while the store is unavailable: 0.1, 0.2, ... up to 5 (never
    overflows: retries go on for as long as the outage lasts)."""
    return float(min(UNAVAILABLE_MAX, UNAVAILABLE_FIRST * 2 ** min(attempt - 1, 20)))


def describe(exc: BaseException) -> tuple[str, str]:
    """(type, message) of an error, as kept with a dead letter: the type with its module unless
    builtin, the message on its own, cut to MESSAGE_MAX and without NUL (PostgreSQL text cannot hold it)."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    message = str(exc).replace("\x00", "\\u0000")
    if len(message) > MESSAGE_MAX:
        message = message[:MESSAGE_MAX] + "…"
    return name, message or name


class Worker:
    """Applies what the store hands out. Stateless between claims; one instance serves every lane."""

    def __init__(self, store: Store, batch_records: int = 2000, planner: Planner | None = None) -> None:
        self.store = store
        self.batch_records = batch_records
        self.planner = planner or Planner()
        self.applied = 0  # records
        self.dead_lettered = 0  # entries

    async def step(self) -> int | None:
        """One claim, worked through: the records applied (0 when all were dead-lettered), or None when
        there was nothing to claim. Raises StoreUnavailable and Contention for the caller's policy."""
        async with self.store.claim(self.batch_records) as claim:
            if claim is None:
                return None
            return await self._work(claim)

    async def _work(self, claim: Claim) -> int:
        applied = 0
        size = len(claim.entries)  # the unit: everything claimed, until something fails
        suspect_end: int | None = None  # last entry id of the first unit that failed
        decoded: dict[int, LogEntry] = {}
        while claim.entries:
            pending = claim.entries
            if suspect_end is not None and pending[0].id > suspect_end:
                size, suspect_end = len(pending), None  # past the failed range: whole units again
            unit = pending[:size]
            try:
                n = await self._apply(claim, unit, decoded)
                applied += n
                self.applied += n  # counted as each unit commits (not `+= await`: lanes share the count)
            except (StoreUnavailable, Contention):
                raise
            except Exception as exc:
                await claim.rollback()
                if len(unit) > 1:
                    suspect_end = unit[-1].id if suspect_end is None else suspect_end
                    size = len(unit) // 2
                    continue
                await self._dead_letter(claim, unit[0], exc)
                size, suspect_end = len(claim.entries), None  # found it: whole units again
        return applied

    async def _apply(self, claim: Claim, unit: Sequence[QueuedEntry], decoded: dict[int, LogEntry]) -> int:
        entries = []
        for queued in unit:
            entry = decoded.get(queued.id)
            if entry is None:
                entry = LogEntry(queued.id, queued.account_id, queued.received_at, decode_records(queued.payload))
                decoded[queued.id] = entry
            entries.append(entry)
        state = await claim.load(self.planner.needs(entries))
        effects = self.planner.plan(entries, state)
        await claim.write(effects)
        await claim.ack(len(unit))
        applied = sum(e.records for e in unit)
        metrics.PROCESSED.inc(applied)  # counted once committed
        for rejection in effects.rejections:
            metrics.REJECTIONS.labels(rejection.reason).inc()
        return applied

    async def _dead_letter(self, claim: Claim, entry: QueuedEntry, exc: Exception) -> None:
        error, message = describe(exc)
        await claim.dead_letter(error, message)
        self.dead_lettered += 1
        metrics.DEAD_LETTERS.inc()
        # The message may quote the data; the log names the entry only (logs never hold request bodies).
        log.error(
            "log entry %d of account %d moved to the dead letters: %s (see `openengage dead-letters list`)",
            entry.id,
            entry.account_id,
            error,
            extra={"action": "dead_letter"},
        )

    # ------------------------------------------------------------ loops

    async def drain(self) -> int:
        """Apply everything pending now, on every lane; returns the records applied. Contention is
        retried; StoreUnavailable is raised (for tests and `process --burst`, not a server)."""
        before = self.applied
        results = await asyncio.gather(
            *(self._drain_lane() for _ in range(self.store.processing_lanes)), return_exceptions=True
        )
        for result in results:  # every lane has finished (committed or rolled back) before we raise
            if isinstance(result, BaseException):
                raise result
        return self.applied - before

    async def _drain_lane(self) -> None:
        attempt = 0
        while True:
            try:
                n = await self.step()
            except Contention:
                attempt += 1
                await asyncio.sleep(contention_pause(attempt))
                continue
            attempt = 0
            if n is None:
                return

    async def run(self, stop: asyncio.Event, poll_interval: float, linger: float = 0.0) -> None:
        """Process until `stop` is set: every lane, and log maintenance every MAINTAIN_EVERY seconds.

        `linger`: seconds a lane waits after a claim that applied less than half a batch, so the next
        claim gathers more. A claim has a fixed cost (its transaction and fsync, a dozen statements,
        the loads) that a trickle of small claims pays per handful of records: under steady single-event
        ingest `serve`'s processor spent ~190 µs of CPU a record that way, on the cores the API needs.
        A backlog still gets full claims back to back; the latency of a record rises by at most `linger`.
        """
        lanes = [self._lane(stop, poll_interval, linger) for _ in range(self.store.processing_lanes)]
        await asyncio.gather(*lanes, self._maintain(stop))

    async def _lane(self, stop: asyncio.Event, poll_interval: float, linger: float) -> None:
        contention = unavailable = 0
        while not stop.is_set():
            try:
                n = await self.step()
            except Contention as exc:
                contention += 1
                if contention % CONTENTION_WARN == 0:  # retried for good, but never silently
                    log.warning(
                        "claims keep conflicting with another processor (%d in a row): %s",
                        contention,
                        exc,
                        extra={"action": "processor_contention"},
                    )
                await asyncio.sleep(contention_pause(contention))
                continue
            except StoreUnavailable as exc:
                unavailable += 1
                pause = unavailable_pause(unavailable)
                log.warning(
                    "store unavailable (%s); retrying in %.1f s", exc, pause, extra={"action": "processor_retry"}
                )
                await _sleep(stop, pause)
                continue
            except Exception:
                log.exception("processing failed; retrying", extra={"action": "processor_retry"})
                await _sleep(stop, BUG_DELAY)
                continue
            contention = unavailable = 0
            if n is None:
                await _sleep(stop, poll_interval)
            elif linger and n < self.batch_records // 2:
                await _sleep(stop, linger)

    async def _maintain(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.store.maintain(now_ms())
            except Exception:
                log.warning("log maintenance failed; trying again later", exc_info=True)
            await _sleep(stop, MAINTAIN_EVERY)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake as soon as `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def drain(store: Store, batch_records: int = 2000, planner: Planner | None = None) -> int:
    """Apply everything pending now; returns the number of records applied. Used by tests and `--burst`."""
    return await Worker(store, batch_records, planner).drain()


async def run(store: Store, stop: asyncio.Event, batch_records: int, poll_interval: float, linger: float = 0.0) -> None:
    worker = Worker(store, batch_records)
    started = time.monotonic()
    log.info("processor started", extra={"action": "processor_start"})
    await worker.run(stop, poll_interval, linger)
    log.info(
        "processor stopped after %d records (%d dead letters) in %.0f s",
        worker.applied,
        worker.dead_lettered,
        time.monotonic() - started,
        extra={"action": "processor_stop"},
    )
