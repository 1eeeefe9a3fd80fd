"""Storage backends behind one Store interface, chosen by URL."""

from __future__ import annotations

from openengage.errors import ConfigError
from openengage.settings import Settings
from openengage.store.base import Store


def open_store(settings: Settings) -> Store:
    """The Store for `settings.database_url` (not yet opened)."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        from openengage.store.sqlite.store import SqliteStore

        return SqliteStore(url, sync=settings.sync, min_free_mb=settings.min_free_mb)
    if url.startswith(("postgresql://", "postgres://")):
        from openengage.store.postgres import postgres_store

        return postgres_store(settings)
    raise ConfigError(f"Unsupported database URL '{url}'. Use sqlite:///PATH or postgresql://USER@HOST:PORT/DB.")
