"""Group commit of transactions: concurrent transaction requests share one `Store.enqueue` commit.

The same pattern as the ingest log's GroupCommitter (store/groupcommit.py): every request hands its
TxnSubmission to `submit` and waits; one drain task commits everything queued in one transaction (one
fsync) and answers each waiter once it is durable. A store whose commits wait on a server (PostgreSQL,
`append_concurrency = 2`) gets two drain tasks, so two commits are in flight; their transactions were
concurrent, and the store's locks (the txn ids', the rate window's) order what they decide.
"""

from __future__ import annotations

import asyncio
import contextlib

from openengage import metrics
from openengage.errors import CommitUnknown, StoreUnavailable
from openengage.store.base import Store, TxnOutcome, TxnSubmission

MAX_BATCH = 200


class TransactionCommitter:
    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: list[tuple[TxnSubmission, asyncio.Future[TxnOutcome]]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.in_flight = max(1, int(getattr(store, "append_concurrency", 1)))

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._drain()) for _ in range(self.in_flight)]

    async def stop(self, timeout: float = 5.0) -> None:
        """Commit what is queued, then stop; what is left after `timeout` fails with StoreUnavailable."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for _, fut in self._queue:
            if not fut.done():
                fut.set_exception(StoreUnavailable("the server is shutting down"))
        self._queue.clear()

    async def submit(self, submission: TxnSubmission) -> TxnOutcome:
        if self._stopping and not self._tasks:
            raise StoreUnavailable("the server is shutting down")
        fut: asyncio.Future[TxnOutcome] = asyncio.get_running_loop().create_future()
        self._queue.append((submission, fut))
        self._wake.set()
        return await fut

    async def _drain(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await asyncio.sleep(0)  # let handlers already runnable join this commit
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            if not batch:  # another drain task took everything
                continue
            try:
                outcomes = await self.store.enqueue([sub for sub, _ in batch])
            except Exception as exc:  # the whole batch failed: every waiter gets the error
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            except asyncio.CancelledError:  # stopped mid-commit: the commit may still land
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(CommitUnknown("the server stopped during the commit"))
                raise
            metrics.TRANSACTIONS.inc(sum(1 for o in outcomes if o.status == "accepted"))
            for (_, fut), outcome in zip(batch, outcomes, strict=True):
                if not fut.done():
                    fut.set_result(outcome)
