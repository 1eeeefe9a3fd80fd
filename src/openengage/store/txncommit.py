"""Group commit of transactions (#10): concurrent transaction requests share one `Store.enqueue` commit
(one transaction, one fsync); the batching is store/batching.py's, as for the ingest log. A store whose
commits wait on a server (PostgreSQL) keeps two commits in flight: their transactions were concurrent,
and the store's locks (the txn ids', the rate window's) order what they decide."""

from __future__ import annotations

import asyncio

from openengage import metrics
from openengage.store.base import Store, TxnOutcome, TxnSubmission
from openengage.store.batching import BatchCommitter

MAX_BATCH = 200


class TransactionCommitter(BatchCommitter[TxnSubmission, TxnOutcome]):
    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        super().__init__(int(getattr(store, "append_concurrency", 1)))
        self.store = store
        self.max_batch = max_batch

    async def commit(self, items: list[TxnSubmission]) -> list[TxnOutcome]:
        return await self.store.enqueue(items)

    def take(self, queue: list[tuple[TxnSubmission, asyncio.Future[TxnOutcome]]]) -> int:
        return min(len(queue), self.max_batch)

    def committed(self, items: list[TxnSubmission], results: list[TxnOutcome], seconds: float) -> None:
        metrics.TRANSACTIONS.inc(sum(1 for o in results if o.status == "accepted"))
