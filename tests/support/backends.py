"""Which store backends the suite runs against, and a fresh database of each per test."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_URL_ENV = "OPENENGAGE_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgres"]


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
    """A database of its own: a new SQLite file (not migrated yet), or a PostgreSQL database copied
    from a migrated template (`migrated=False`: an empty one)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'oe.db'}"
        return
    from tests.support import pg

    url = postgres_url()
    assert url is not None
    with pg.scratch_database(url, migrated=migrated) as scratch:
        yield scratch
