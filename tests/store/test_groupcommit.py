"""Group commit with two appends in flight (stores that declare `append_concurrency = 2`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from openengage.store.base import Outcome, Submission
from openengage.store.groupcommit import GroupCommitter


class SlowStore:
    """Records what each append got; each commit takes a while, as a server round trip does."""

    append_concurrency = 2

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_running = 0

    async def append(self, batch: Sequence[Submission]) -> list[Outcome]:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.batches.append([s.records for s in batch])
        await asyncio.sleep(0.01)
        self.running -= 1
        return [Outcome("accepted") for _ in batch]


def test_two_commits_in_flight_answer_every_request_once() -> None:
    async def scenario() -> SlowStore:
        store = SlowStore()
        committer = GroupCommitter(store, max_records=10)  # type: ignore[arg-type]
        committer.start()
        subs = [Submission(1, "events", 1, 0, b"[]", i) for i in range(1, 61)]
        outcomes = await asyncio.gather(*(committer.submit(s) for s in subs))
        await committer.stop()
        assert all(o.status == "accepted" for o in outcomes)
        return store

    store = asyncio.run(scenario())
    assert committer_sizes_ok(store.batches)
    assert store.most_running == 2
    assert sorted(n for batch in store.batches for n in batch) == list(range(1, 61))


def committer_sizes_ok(batches: list[list[int]]) -> bool:
    """No empty batch, and none over the record limit unless it is a single big submission."""
    return all(batch and (sum(batch) <= 10 or len(batch) == 1) for batch in batches)
