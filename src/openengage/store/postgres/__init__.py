"""The PostgreSQL store, selected by a postgresql:// URL. Needs psycopg 3 with its pool."""

from __future__ import annotations

import importlib

from openengage.errors import StoreUnavailable
from openengage.settings import Settings
from openengage.store.base import Store

INSTALL_HINT = "pip install 'psycopg[binary,pool]'"


def postgres_store(settings: Settings) -> Store:
    """A PostgresStore for `settings.database_url` (not yet opened); a one-line error without the driver."""
    for module in ("psycopg", "psycopg_pool"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise StoreUnavailable(
                f"PostgreSQL support needs the Python package '{module}' (psycopg 3 and its pool): {INSTALL_HINT}"
            ) from None
    from openengage.store.postgres.store import PostgresStore

    return PostgresStore(
        settings.database_url, settings.pool_min, settings.pool_max, settings.store_wait, settings.store_timeout
    )
