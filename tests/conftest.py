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
from tests.support.windows import inside_one_window


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that start real server processes (marked slow: seconds a test) run first, the rest after in
    their usual order. scripts/test spreads files over two workers in this order (--dist loadfile
    --no-loadscope-reorder): the long files start at once and the short ones even out the end, instead of
    one worker finishing a long file alone while the other has nothing left."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: each file keeps its tests' order


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results never depend on the developer's shell."""
    for key in list(os.environ):
        if key.startswith("OPENENGAGE_") and key != backends.TEST_URL_ENV:
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def quick_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with its smallest costs in this process: the product's profile (t=3, m=64 MiB) takes
    ~170 ms a hash and as much a check, and most dashboard tests sign someone in. Tests marked
    `production_password_hashing` and every `openengage serve` a test starts keep the real profile."""
    if request.node.get_closest_marker("production_password_hashing"):
        return
    from argon2 import PasswordHasher

    from openengage.dashboard import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth._dummy_hash.cache_clear()  # made with whichever hasher asked first: with this one from now on
    request.addfinalizer(auth._dummy_hash.cache_clear)


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
    """Rate limits count per fixed minute: start a test that counts on one window well inside it (a test
    with slow setup of its own calls tests.support.windows.inside_one_window right before counting)."""
    inside_one_window()
