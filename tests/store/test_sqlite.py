"""SQLite-specific behaviour: two files, request-id expiry, pruning."""

from __future__ import annotations

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
