"""The SQLite Executor: named queries for store/admin.py and store/reads.py.

- Reads outside a transaction run on the store's reader pool (thread-local connections to the store
  file with the ingest log attached), each statement its own snapshot.
- Write transactions run on one writer thread with its own connection to the store file, serialized by
  an asyncio lock: a transaction's statements hop to that thread one by one (the event loop stays free
  meanwhile), and no other transaction's statement can slip in between on the one connection.
- That connection is not the processor's: SQLite's file lock (busy_timeout) orders the two writers, as
  it orders a CLI command against a running server. Sharing the processor's thread would deadlock: a
  processing batch waiting for the lock would block the very thread the open transaction needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from openengage import metrics
from openengage.errors import StoreUnavailable
from openengage.store.base import Row, Tx

T = TypeVar("T")


def _unavailable(exc: sqlite3.OperationalError) -> StoreUnavailable:
    # OperationalError: locked past busy_timeout, disk full, read-only file, I/O error, cannot open.
    metrics.STORE_ERRORS.inc()
    return StoreUnavailable(f"the SQLite store cannot be used: {exc}")


class _Statements:
    """one/all/run of named queries on a connection, on a given thread."""

    def __init__(self, queries: dict[str, str], pool: ThreadPoolExecutor, conn: Callable[[], sqlite3.Connection]):
        self._q = queries
        self._pool = pool
        self._conn = conn

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except sqlite3.OperationalError as exc:
            raise _unavailable(exc) from None

    def _one(self, query: str, params: tuple[Any, ...]) -> Row | None:
        row: Row | None = self._conn().execute(self._q[query], params).fetchone()
        return row

    def _all(self, query: str, params: tuple[Any, ...]) -> list[Row]:
        return self._conn().execute(self._q[query], params).fetchall()

    def _run(self, query: str, params: tuple[Any, ...]) -> int:
        return self._conn().execute(self._q[query], params).rowcount

    async def one(self, query: str, *params: Any) -> Row | None:
        return await self._call(self._one, query, params)

    async def all(self, query: str, *params: Any) -> list[Row]:
        return await self._call(self._all, query, params)


class _Tx(_Statements):
    async def run(self, query: str, *params: Any) -> int:
        return await self._call(self._run, query, params)


class SqliteExecutor(_Statements):
    def __init__(
        self,
        queries: dict[str, str],
        readers: ThreadPoolExecutor,
        reader: Callable[[], sqlite3.Connection],
        connect_writer: Callable[[], sqlite3.Connection],
    ) -> None:
        super().__init__(queries, readers, reader)
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="oe-admin")
        self._connect_writer = connect_writer
        self._writer_conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _writer(self) -> sqlite3.Connection:
        # Only ever called on the one writer thread.
        if self._writer_conn is None:
            self._writer_conn = self._connect_writer()
        return self._writer_conn

    def _finish(self, commit: bool) -> None:
        conn = self._writer()
        if commit:
            conn.execute("COMMIT")
        elif conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the original error is the one worth raising
                conn.execute("ROLLBACK")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            tx = _Tx(self._q, self._writer_pool, self._writer)
            await tx._call(lambda: self._writer().execute("BEGIN IMMEDIATE"))
            try:
                yield tx
                await tx._call(self._finish, True)
            except BaseException:
                # Runs after any statement still on the writer thread (one thread: first in, first out).
                await asyncio.shield(tx._call(self._finish, False))
                raise

    def close(self) -> None:
        self._writer_pool.shutdown(wait=True)
