"""Group commit of the ingest log: concurrent requests share one `Store.append` (one transaction, one
fsync). The batching itself is store/batching.py's; this says how a batch is sized (by records, up to
`max_records`, so one huge bulk request cannot make a commit unbounded) and what is counted."""

from __future__ import annotations

import asyncio

from openengage import metrics
from openengage.store.base import Outcome, Store, Submission
from openengage.store.batching import BatchCommitter

_COMMIT_SECONDS = metrics.INGEST_COMMIT
_BATCH_RECORDS = metrics.INGEST_BATCH
_RECORDS = {dialect: metrics.INGEST_RECORDS.labels(dialect) for dialect in ("webengage", "moengage")}


class GroupCommitter(BatchCommitter[Submission, Outcome]):
    def __init__(self, store: Store, max_records: int = 2000) -> None:
        super().__init__(int(getattr(store, "append_concurrency", 1)))
        self.store = store
        self.max_records = max_records

    async def commit(self, items: list[Submission]) -> list[Outcome]:
        return await self.store.append(items)

    def take(self, queue: list[tuple[Submission, asyncio.Future[Outcome]]]) -> int:
        taken, records = 0, 0
        for sub, _ in queue:
            if taken and records + sub.records > self.max_records:
                break
            taken += 1
            records += sub.records
        return taken

    def committed(self, items: list[Submission], results: list[Outcome], seconds: float) -> None:
        """Records acknowledged by this commit, per dialect (MoEngage buckets are named moengage-*)."""
        _COMMIT_SECONDS.observe(seconds)
        _BATCH_RECORDS.observe(sum(sub.records for sub in items))
        webengage = moengage = 0
        for sub, outcome in zip(items, results, strict=True):
            if outcome.status == "accepted":
                if sub.bucket.startswith("moengage"):
                    moengage += sub.records
                else:
                    webengage += sub.records
        if webengage:
            _RECORDS["webengage"].inc(webengage)
        if moengage:
            _RECORDS["moengage"].inc(moengage)
