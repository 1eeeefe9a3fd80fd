"""The debugger's record of refused ingest requests (4xx), kept off the acknowledgement path.

A refusal is noted in memory (`note`: a list append, nothing awaited) and a background task writes what
gathered once a second in one store transaction (`Store.record_refusals`), which also trims each account
to its newest `REFUSED_PER_ACCOUNT` rows. Bounds, so that a hostile client cannot fill anything:
- memory: at most `BUFFER` refusals wait for the next write; past that they are counted, not kept;
- store: `REFUSED_PER_ACCOUNT` rows per account (store/traces.py), each with at most `EXCERPT_BYTES` of
  the body, decoded as UTF-8 (a cut character becomes U+FFFD);
- never credentials: no header is kept (Authorization, MOE-APPKEY and the rest), only the body of a
  request that passed authentication (a 401 or 404 keeps none), the status and the message we answered.
Refusals of an unknown license code or app id are not recorded: there is no account to show them to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store.base import Refusal, Store

log = logging.getLogger("openengage.api")

BUFFER = 1000  # refusals waiting for the next write, at most
EXCERPT_BYTES = 1024
FLUSH_SECONDS = 1.0


def excerpt(body: bytes | None) -> str:
    """The first EXCERPT_BYTES of a body as text (a character cut in two becomes U+FFFD)."""
    if not body:
        return ""
    return body[:EXCERPT_BYTES].decode("utf-8", "replace")


class RefusalLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[Refusal] = []
        self.dropped = 0  # refusals not kept because the buffer was full
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def note(
        self, account_id: int, endpoint: str, status: int, message: str, body: bytes | None, request_id: str | None
    ) -> None:
        if len(self._pending) >= BUFFER:
            self.dropped += 1
            return
        rid = None if request_id is None else request_id[:200]
        self._pending.append(Refusal(account_id, now_ms(), endpoint, status, message[:1000], excerpt(body), rid))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            await self.store.record_refusals(batch)

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), FLUSH_SECONDS)
            if self._stop.is_set():
                return
            try:
                await self.flush()
            except StoreUnavailable:
                pass  # an outage: these refusals are lost, ingest is not held up by them
            except Exception:
                log.warning("recording refused requests failed", exc_info=True, extra={"action": "refusals"})
