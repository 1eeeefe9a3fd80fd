"""Versioned migrations, applied with yoyo-migrations.

Each backend keeps numbered plain-SQL files under `store/<backend>/migrations/<database>/`. yoyo
records what it applied in `_yoyo_migration`, applies each file in its own transaction, and holds a
lock table so that several nodes starting at once migrate only once.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from importlib import resources

from yoyo import get_backend, read_migrations

# yoyo logs every step of every migration at INFO; `serve` logs at INFO, and 20 lines per start say
# less than the one line `openengage migrate` prints.
logging.getLogger("yoyo").setLevel(logging.WARNING)


@contextlib.contextmanager
def _migrations_dir(package: str, name: str) -> Iterator[str]:
    with resources.as_file(resources.files(package).joinpath("migrations", name)) as path:
        yield str(path)


def _backend(url: str):  # type: ignore[no-untyped-def]
    # yoyo prints progress on stderr for some backends; keep the CLI's output clean.
    with contextlib.redirect_stderr(io.StringIO()):
        return get_backend(url)


def available(package: str, name: str) -> list[str]:
    """Ids of every migration of a database, applied or not (what a new database has pending)."""
    with _migrations_dir(package, name) as directory:
        return [m.id for m in read_migrations(directory)]


def pending(url: str, package: str, name: str) -> list[str]:
    """Ids of the migrations not yet applied."""
    with _migrations_dir(package, name) as directory:
        backend = _backend(url)
        try:
            return [m.id for m in backend.to_apply(read_migrations(directory))]
        finally:
            backend.connection.close()


def apply(url: str, package: str, name: str) -> list[str]:
    """Apply pending migrations under yoyo's lock; returns the ids applied."""
    with _migrations_dir(package, name) as directory:
        backend = _backend(url)
        try:
            with backend.lock():
                todo = backend.to_apply(read_migrations(directory))
                backend.apply_migrations(todo)
                return [m.id for m in todo]
        finally:
            backend.connection.close()
