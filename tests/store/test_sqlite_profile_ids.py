"""SQLite: profile ids are never reused, also in stores created before migration 0002 (issue #3)."""

from __future__ import annotations

import asyncio
import sqlite3
from importlib import resources
from pathlib import Path

from yoyo import get_backend, read_migrations

from openengage.store.migrations import available
from openengage.store.sqlite.store import SqliteStore


def test_migration_0002_keeps_profiles_and_starts_above_every_referenced_id(tmp_path: Path) -> None:
    path = tmp_path / "oe.db"
    directory = resources.files("openengage.store.sqlite").joinpath("migrations", "main")
    migrations = read_migrations(str(directory))
    backend = get_backend(f"sqlite:///{path}")
    try:
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations)[:1])
    finally:
        backend.connection.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO profiles (id, account_id, user_id, system, attributes, created_at, updated_at) "
            "VALUES (1, 1, 'kept', '{}', '{\"a\": 1}', 0, 0)"
        )
        # profile 7 was deleted; its event remains
        conn.execute(
            "INSERT INTO events (id, account_id, profile_id, name, time_ms, data, received_at) "
            "VALUES (1, 1, 7, 'Old', 0, '{}', 0)"
        )
    conn.close()

    async def migrate() -> list[str]:
        store = SqliteStore(f"sqlite:///{path}")
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = asyncio.run(migrate())
    # the rest of main (0002 first), then the fresh ingest file
    package = "openengage.store.sqlite"
    assert applied == available(package, "main")[1:] + available(package, "ingest")
    assert applied[0] == "0002_profile_ids_never_reused"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT id, user_id, attributes FROM profiles").fetchall() == [(1, "kept", '{"a": 1}')]
        new_id = conn.execute(
            "INSERT INTO profiles (account_id, user_id, system, attributes, created_at, updated_at) "
            "VALUES (1, 'new', '{}', '{}', 0, 0)"
        ).lastrowid
        assert new_id == 8
        conn.execute("DELETE FROM profiles WHERE id = 8")
        again = conn.execute(
            "INSERT INTO profiles (account_id, user_id, system, attributes, created_at, updated_at) "
            "VALUES (1, 'again', '{}', '{}', 0, 0)"
        ).lastrowid
        assert again == 9
    finally:
        conn.close()
