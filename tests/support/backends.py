"""Which store backends the suite runs against, and a fresh database of each per test."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_URL_ENV = "OPENENGAGE_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgres"]
_sqlite_template: list[Path] = []  # this test process's migrated SQLite files (main and ingest log)


def postgres_url() -> str | None:
    return os.environ.get(TEST_URL_ENV) or None


def require(backend: str) -> None:
    """Skip a PostgreSQL test when no server is configured, except in CI where that is a failure."""
    if backend == "postgres" and postgres_url() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {TEST_URL_ENV} is not set: PostgreSQL tests must run in CI")
        pytest.skip(f"PostgreSQL tests need {TEST_URL_ENV}")


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path: Path, migrated: bool = True) -> Iterator[str]:
    """A database of its own: SQLite files copied from a migrated template, or a PostgreSQL database
    copied from a migrated template (`migrated=False`: a new SQLite path / an empty database)."""
    if backend == "sqlite":
        if migrated:
            _copy_sqlite_template(tmp_path)
        yield f"sqlite:///{tmp_path / 'oe.db'}"
        return
    from tests.support import pg

    url = postgres_url()
    assert url is not None
    with pg.scratch_database(url, migrated=migrated) as scratch:
        yield scratch


def _copy_sqlite_template(tmp_path: Path) -> None:
    """Copy a SQLite store migrated once per test process into `tmp_path` (oe.db and oe.ingest.db): the
    migrations' commits cost 0.15-0.2 s of fsyncs a test; a copy costs a millisecond."""
    if not _sqlite_template:
        from openengage.store.sqlite.store import SqliteStore

        where = Path(tempfile.mkdtemp(prefix="openengage-template-"))
        atexit.register(shutil.rmtree, where, True)
        store = SqliteStore(f"sqlite:///{where / 'oe.db'}")

        async def migrate() -> None:
            await store.migrate()
            await store.close()

        asyncio.run(migrate())
        files = sorted(where.iterdir())
        assert {f.name for f in files} == {"oe.db", "oe.ingest.db"}, files  # closed cleanly: no -wal left
        _sqlite_template.extend(files)
    for f in _sqlite_template:
        shutil.copyfile(f, tmp_path / f.name)
