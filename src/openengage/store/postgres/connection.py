"""Connections to PostgreSQL: URLs, the pool, transactions, retryable errors, one-line error messages."""

from __future__ import annotations

import contextlib
import os
import random
import zlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool

from openengage.errors import StoreUnavailable

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


def make_pool(url: str, min_size: int, max_size: int) -> AsyncConnectionPool[Conn]:
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max(min_size, max_size),
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "application_name": application_name()},
        configure=_configure,
        open=False,
        name="openengage",
    )


@contextlib.asynccontextmanager
async def transaction(conn: Conn, isolation: str | None = None) -> AsyncIterator[None]:
    """BEGIN ... COMMIT on an autocommit connection; ROLLBACK on any error (the connection stays usable)."""
    await conn.execute("BEGIN ISOLATION LEVEL " + isolation if isolation else "BEGIN")
    try:
        yield
    except BaseException:
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): short, jittered, so contenders spread out."""
    return float(min(0.5, 0.005 * (2**attempt)) * (0.5 + random.random()))
