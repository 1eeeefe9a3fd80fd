"""SQLite-specific behaviour: two files, request-id expiry, pruning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openengage.records import EventRecord, encode_records
from openengage.store import common
from openengage.store.base import Submission
from openengage.store.sqlite import store as sqlite_store
from openengage.store.sqlite.store import SqliteStore, ingest_path
from tests.store.helpers import process_once

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(f"sqlite:///{tmp_path / 'oe.db'}")
    await s.migrate()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def test_ingest_log_lives_next_to_the_store() -> None:
    assert ingest_path("/data/openengage.db") == "/data/openengage.ingest.db"
    assert ingest_path("data/oe") == "data/oe.ingest.db"


async def test_request_ids_expire_after_four_hours(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = await store.create_account("acme", "o@x.test")
    sub = Submission(creds.account_id, "events", 1, 0, encode_records([EventRecord("E", user_id="u")]), 1, "rid")
    clock = [1_000_000_000_000]
    monkeypatch.setattr(sqlite_store, "_now", lambda: clock[0])
    assert (await store.append([sub]))[0].status == "accepted"
    clock[0] += common.REQUEST_ID_TTL_MS - 1
    assert (await store.append([sub]))[0].status == "duplicate"
    clock[0] += 2
    assert (await store.append([sub]))[0].status == "accepted"


async def test_maintenance_prunes_applied_entries_only(store: SqliteStore) -> None:
    import sqlite3

    creds = await store.create_account("acme", "o@x.test")
    sub = Submission(creds.account_id, "events", 1, 0, encode_records([EventRecord("E", user_id="u")]), 1)
    await store.append([sub, sub])
    await process_once(store, 1)
    await store.maintain(common.WINDOW_MS)
    with sqlite3.connect(store.log_path) as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    assert (await store.stats(creds.account_id)).pending == 1


async def test_two_processors_on_the_same_files_apply_each_entry_once(tmp_path: Path) -> None:
    """Two `openengage process` on one SQLite store: each checks the cursor in every transaction, so a
    claim the other overtook (while it isolates a bad entry in several transactions) ends as Contention,
    retried: never a duplicate, and the one bad entry is the one dead letter."""
    from openengage.processor.worker import Worker
    from tests.test_dead_letters import PoisonPlanner

    url = f"sqlite:///{tmp_path / 'oe.db'}"
    one, two = SqliteStore(url), SqliteStore(url)
    await one.migrate()
    for s in (one, two):
        await s.open()
    try:
        acc = (await one.create_account("acme", "o@x.test")).account_id
        records = [[EventRecord("E", user_id=f"u{i % 3}", data={"n": i})] for i in range(120)]
        records.insert(60, [EventRecord("poison", user_id="u0")])
        await one.append([Submission(acc, "events", 0, 0, encode_records(r), 1) for r in records])
        workers = [Worker(one, 40, PoisonPlanner()), Worker(two, 50, PoisonPlanner())]
        await asyncio.gather(*(w.drain() for w in workers))
        assert sum(w.applied for w in workers) == 120
        assert sum(w.dead_lettered for w in workers) == 1 and await one.count_dead_letters(acc) == 1
        for u in range(3):
            profile = await one.profile(acc, "u", f"u{u}")
            assert profile is not None
            page = await one.events(acc, profile.id, 1000, None)
            assert sorted(e.data["n"] for e in page.items) == list(range(u, 120, 3))
        assert (await one.stats(acc)).events == 120
    finally:
        for s in (one, two):
            await s.close()


async def test_a_claim_overtaken_by_another_processor_ends_in_contention(tmp_path: Path) -> None:
    from openengage.processor.worker import Worker
    from openengage.store.base import Contention, Needs

    url = f"sqlite:///{tmp_path / 'oe.db'}"
    one, two = SqliteStore(url), SqliteStore(url)
    await one.migrate()
    for s in (one, two):
        await s.open()
    try:
        acc = (await one.create_account("acme", "o@x.test")).account_id
        await one.append([Submission(acc, "events", 0, 0, encode_records([EventRecord("E", user_id="u")]), 1)] * 3)
        async with one.claim(100) as claim:
            assert claim is not None and len(claim.entries) == 3
            await claim.ack(1)  # one unit committed; the claim still holds two entries
            assert await Worker(two, 100).drain() == 2  # another process takes them meanwhile
            with pytest.raises(Contention):
                await claim.load(Needs(set(), set()))
        async with one.claim(100) as claim:
            assert claim is None
        assert (await one.stats(acc)).pending == 0
    finally:
        for s in (one, two):
            await s.close()
