"""Connections to PostgreSQL: URLs, the pool, transactions, retryable errors, one-line error messages."""

from __future__ import annotations

import contextlib
import os
import random
import time
import weakref
import zlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from openengage.errors import CommitUnknown, StoreUnavailable

CONNECT_TIMEOUT = 5  # seconds; an unreachable server must fail fast with a clear message

# Advisory lock classes (first key of the two-int form), so our locks never collide with other
# applications' locks in a shared database. 0x4F45 is "OE".
LOCK_PARTITION = 0x4F4501
LOCK_REQUEST_ID = 0x4F4502
LOCK_MIGRATE = 0x4F4503

Conn = psycopg.AsyncConnection[tuple[Any, ...]]

# Errors after which a transaction is simply tried again: another node touched the same rows.
RETRYABLE: tuple[type[Exception], ...] = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.UniqueViolation,
)


def unavailable(exc: BaseException) -> bool:
    """Whether a driver error means "cannot reach or cannot commit" (StoreUnavailable), as opposed to a
    conflict worth retrying at once (RETRYABLE) or a bug: lost or refused connections, pool timeouts,
    server shutdown, disk full, a read-only server."""
    if isinstance(exc, RETRYABLE):
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | pg_errors.ReadOnlySqlTransaction)


def normalize_url(url: str) -> str:
    """libpq accepts postgresql:// and postgres://; keep one spelling."""
    if url.startswith("postgres://"):
        return "postgresql://" + url.removeprefix("postgres://")
    return url


def yoyo_url(url: str) -> str:
    """yoyo picks its psycopg 3 backend by the `postgresql+psycopg` scheme."""
    return "postgresql+psycopg://" + normalize_url(url).removeprefix("postgresql://")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=user + "@" + netloc[-1]))


def one_line(exc: BaseException) -> str:
    """The first meaningful line of a driver error (libpq messages span several lines)."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("connection failed: ")
    return type(exc).__name__


def unreachable(url: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(
        f"cannot connect to PostgreSQL at {redact(url)}: {one_line(exc)} "
        "(check that the server is running, that the database exists, and OPENENGAGE_DATABASE_URL)"
    )


def key32(text: str) -> int:
    """A stable signed 32-bit key for advisory locks (Python's hash() differs between processes)."""
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def application_name() -> str:
    """Shown in pg_stat_activity: which OpenEngage process holds a connection (and its locks)."""
    return f"openengage[{os.getpid()}]"


async def _configure(conn: Conn) -> None:
    # jsonb arrives as text: common.json_decode (msgspec) parses it, the same path as SQLite's TEXT.
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("json", TextLoader)
    # A 2xx means durably committed: whatever the server's default, our commits wait for the WAL flush.
    await conn.execute("SET synchronous_commit TO on")


async def connect(url: str) -> Conn:
    """One connection outside the pool (checks, migrations); raises StoreUnavailable when unreachable."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name=application_name()
        )
    except psycopg.Error as exc:
        raise unreachable(url, exc) from None
    await _configure(conn)
    return conn


# When each pooled connection went back to the pool. A connection idle longer than IDLE_CHECK is
# checked (one empty query) before it is handed out: after an outage the pool then replaces its dead
# connections instead of failing one request with each; a busy connection is not checked (no cost on
# the hot path).
IDLE_CHECK = 1.0
_returned: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()


async def _mark_returned(conn: Conn) -> None:
    _returned[conn] = time.monotonic()


async def _check_idle(conn: Conn) -> None:
    if time.monotonic() - _returned.get(conn, 0.0) > IDLE_CHECK:
        await AsyncConnectionPool.check_connection(conn)


class _Reconnect(AttemptWithBackoff):
    """psycopg_pool doubles the delay between reconnection attempts without bound (1, 2, 4, 8 s ...),
    so after an 8-second outage the pool could wait 8 more seconds before trying again. Capped."""

    MAX_DELAY = 2.0

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MAX_DELAY)


class Pool(AsyncConnectionPool[Conn]):
    async def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        await super()._add_connection(attempt or _Reconnect(timeout=self.reconnect_timeout), growing)


def make_pool(url: str, min_size: int, max_size: int, wait: float = 30.0) -> AsyncConnectionPool[Conn]:
    """The pool; a client waits at most `wait` seconds for a connection (PoolTimeout, then 503)."""
    return Pool(
        url,
        min_size=min_size,
        max_size=max(min_size, max_size),
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "application_name": application_name()},
        configure=_configure,
        check=_check_idle,
        reset=_mark_returned,
        timeout=wait,
        open=False,
        name="openengage",
    )


@contextlib.asynccontextmanager
async def transaction(conn: Conn, isolation: str | None = None) -> AsyncIterator[None]:
    """BEGIN ... COMMIT on an autocommit connection; ROLLBACK on any error (the connection stays usable).

    A connection lost while COMMIT is in flight raises CommitUnknown: the server may have committed
    before the connection broke, and the caller must not say that nothing was stored."""
    await conn.execute("BEGIN ISOLATION LEVEL " + isolation if isolation else "BEGIN")
    try:
        yield
    except BaseException:
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                await conn.execute("ROLLBACK")
        raise
    try:
        await conn.execute("COMMIT")
    except psycopg.Error as exc:
        if exc.sqlstate is None or conn.broken:  # no answer from the server: the outcome is unknown
            raise CommitUnknown(f"connection to PostgreSQL lost during COMMIT: {one_line(exc)}") from exc
        raise  # the server answered with an error: the transaction did not commit


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): short, jittered, so contenders spread out."""
    return float(min(0.5, 0.005 * (2**attempt)) * (0.5 + random.random()))
