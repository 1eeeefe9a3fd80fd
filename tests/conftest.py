"""Shared fixtures.

Backends: every store-backed test runs on SQLite, and on PostgreSQL when OPENENGAGE_TEST_DATABASE_URL
names a server (each test gets its own database). Under CI=true a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import backends
from tests.support.harness import Harness


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results never depend on the developer's shell."""
    for key in list(os.environ):
        if key.startswith("OPENENGAGE_") and key != backends.TEST_URL_ENV:
            monkeypatch.delenv(key)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=backends.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    backends.require(name)
    return name


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of the backend under test, with no account. It may already be migrated
    (PostgreSQL copies a migrated template); `migrate()` on it is a no-op then."""
    with backends.fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def unmigrated_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of the backend under test with no migration applied."""
    with backends.fresh_database(backend, tmp_path, migrated=False) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'oe.db'}"


@pytest.fixture
def api(database_url: str) -> Iterator[Harness]:
    """The app on a fresh store of each backend, one account, processor drained by hand (`api.drain()`)."""
    with Harness(database_url) as harness:
        yield harness


@pytest.fixture
def steady_rate_window() -> None:
    """Rate limits count per fixed minute: start a test that counts on one window well inside it."""
    import time

    left = 60 - time.time() % 60
    if left < 3:
        time.sleep(left + 0.05)
