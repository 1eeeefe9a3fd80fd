"""Group commit with two appends in flight (stores that declare `append_concurrency = 2`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from openengage.errors import StoreUnavailable
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


def test_stop_commits_what_is_queued_and_refuses_what_comes_after() -> None:
    """SIGTERM: requests already handed to the committer get their commit; later ones a clear 503."""

    async def scenario() -> tuple[SlowStore, list[Outcome], BaseException | None]:
        store = SlowStore()
        committer = GroupCommitter(store, max_records=5)  # type: ignore[arg-type]
        committer.start()
        subs = [Submission(1, "events", 1, 0, b"[]", 1) for _ in range(20)]
        waiting = [asyncio.ensure_future(committer.submit(s)) for s in subs]
        await asyncio.sleep(0)
        await committer.stop()
        outcomes = [await w for w in waiting]
        try:
            await committer.submit(subs[0])
        except StoreUnavailable as exc:
            return store, outcomes, exc
        return store, outcomes, None

    store, outcomes, refused = asyncio.run(scenario())
    assert [o.status for o in outcomes] == ["accepted"] * 20
    assert sum(len(b) for b in store.batches) == 20
    assert isinstance(refused, StoreUnavailable) and "shutting down" in str(refused)


def test_a_failed_commit_fails_every_waiter_with_the_store_error() -> None:
    class DownStore(SlowStore):
        async def append(self, batch: Sequence[Submission]) -> list[Outcome]:
            raise StoreUnavailable("down")

    async def scenario() -> list[BaseException | Outcome]:
        committer = GroupCommitter(DownStore(), max_records=5)  # type: ignore[arg-type]
        committer.start()
        subs = [Submission(1, "events", 1, 0, b"[]", 1) for _ in range(7)]
        results = await asyncio.gather(*(committer.submit(s) for s in subs), return_exceptions=True)
        await committer.stop()
        return results

    assert all(isinstance(r, StoreUnavailable) for r in asyncio.run(scenario()))
