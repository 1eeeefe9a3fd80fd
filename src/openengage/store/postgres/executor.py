"""The PostgreSQL Executor: named queries for store/admin.py and store/reads.py.

Reads outside a transaction take a pooled connection per statement (autocommit: one snapshot each). A
write transaction holds one pooled connection from BEGIN to COMMIT (READ COMMITTED; the queries that a
rule reads before writing lock what they read, e.g. `account_lock`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from openengage import metrics
from openengage.errors import StoreUnavailable
from openengage.store.base import Row, Tx
from openengage.store.postgres.connection import Conn, one_line, transaction

T = TypeVar("T")


@contextlib.asynccontextmanager
async def _errors() -> AsyncIterator[None]:
    """Connection lost, server gone, pool exhausted, pool closed: the store is unavailable (503)."""
    try:
        yield
    except StoreUnavailable:  # the store's own "not open"
        metrics.STORE_ERRORS.inc()
        raise
    except (psycopg.OperationalError, PoolTimeout) as exc:
        metrics.STORE_ERRORS.inc()
        raise StoreUnavailable(f"PostgreSQL is unavailable: {one_line(exc)}") from None


class _Tx:
    def __init__(self, queries: dict[str, str], conn: Conn) -> None:
        self._q = queries
        self._conn = conn

    async def one(self, query: str, *params: Any) -> Row | None:
        async with _errors():
            cur = await self._conn.execute(self._q[query], params)
            return await cur.fetchone()

    async def all(self, query: str, *params: Any) -> list[Row]:
        async with _errors():
            cur = await self._conn.execute(self._q[query], params)
            return await cur.fetchall()

    async def run(self, query: str, *params: Any) -> int:
        async with _errors():
            cur = await self._conn.execute(self._q[query], params)
            return cur.rowcount


class PostgresExecutor:
    def __init__(self, queries: dict[str, str], pool: Callable[[], AsyncConnectionPool[Conn]]) -> None:
        self._q = queries
        self._pool = pool  # the store's pool, opened and closed with the store

    async def _with(self, fn: Callable[[_Tx], Awaitable[T]]) -> T:
        async with _errors(), self._pool().connection() as conn:
            return await fn(_Tx(self._q, conn))

    async def one(self, query: str, *params: Any) -> Row | None:
        return await self._with(lambda tx: tx.one(query, *params))

    async def all(self, query: str, *params: Any) -> list[Row]:
        return await self._with(lambda tx: tx.all(query, *params))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with _errors(), self._pool().connection() as conn, transaction(conn):
            yield _Tx(self._q, conn)
