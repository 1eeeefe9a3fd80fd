"""PostgreSQL store: many stateless nodes over one database (docs/cluster.md).

A pool of psycopg 3 async connections per process. The ingest log, admission state, processing
claims and the config version all live in the database, so any number of `openengage serve`
processes can share it: see ingest.py (admission and append) and processing.py (claims and acks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from openengage import accounts as acc_rules
from openengage.accounts import Account, Credentials, Member, Principal
from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store import migrations
from openengage.store.base import Claim, DeadLetterPage, Outcome, Page, Profile, Stats, StoreStatus, Submission
from openengage.store.postgres import admin, dead_letters, ingest, processing, reads
from openengage.store.postgres.connection import (
    CONNECT_TIMEOUT,
    LOCK_MIGRATE,
    Conn,
    connect,
    make_pool,
    normalize_url,
    one_line,
    redact,
    transaction,
    unreachable,
    yoyo_url,
)
from openengage.store.postgres.partition import PARTITIONS
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")
T = TypeVar("T")
_PACKAGE = "openengage.store.postgres"
log = logging.getLogger("openengage.store.postgres")


class PostgresStore:
    # The processor runs two claims at once, on separate connections: while one lane waits on
    # PostgreSQL the other plans, so a node's processor keeps its core busy.
    processing_lanes = 2

    # Group commit keeps two appends in flight: a commit mostly waits on the server's fsync, and two
    # concurrent commits share it (in-process, 16 requests a commit: 1,934 -> 2,785 appends/s; over
    # HTTP on the shared 2-core machine the gain is smaller, 0-15%).
    append_concurrency = 2

    def __init__(self, url: str, pool_min: int = 2, pool_max: int = 10) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"not a PostgreSQL URL: {url}")
        self.url = url
        self.conninfo = normalize_url(url)
        self.pool_min = pool_min
        self.pool_max = pool_max
        self._pool: AsyncConnectionPool[Conn] | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        status = await self.check()
        if not status.reachable:
            raise StoreUnavailable(status.detail)
        if not status.migrated:
            raise StoreUnavailable(
                f"the PostgreSQL store {redact(self.url)} is not migrated ({len(status.pending_migrations)} "
                "pending); run `openengage migrate`"
            )
        pool: AsyncConnectionPool[Conn] = make_pool(self.conninfo, self.pool_min, self.pool_max)
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
        except PoolTimeout as exc:
            await pool.close()
            raise unreachable(self.url, exc) from None
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _migrate(self) -> list[str]:
        # yoyo's lock table serializes migrations too, but its bookkeeping tables are created before
        # that lock exists; a session advisory lock makes nodes starting at once take turns from the start.
        try:
            with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                conn.execute("SELECT pg_advisory_lock(%s, 0)", (LOCK_MIGRATE,))
                try:
                    return migrations.apply(yoyo_url(self.url), _PACKAGE, "main")
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s, 0)", (LOCK_MIGRATE,))
        except psycopg.OperationalError as exc:
            raise unreachable(self.url, exc) from None

    async def migrate(self) -> list[str]:
        return await asyncio.to_thread(self._migrate)

    async def check(self) -> StoreStatus:
        try:
            conn = await connect(self.conninfo)
        except StoreUnavailable as exc:
            return StoreStatus(False, False, [], str(exc))
        await conn.close()
        try:
            todo = await asyncio.to_thread(migrations.pending, yoyo_url(self.url), _PACKAGE, "main")
        except Exception as exc:  # any driver or yoyo failure is reported, never raised
            return StoreStatus(False, False, [], f"cannot read migrations of {redact(self.url)}: {one_line(exc)}")
        return StoreStatus(True, not todo, todo, "")

    def _pool_or_raise(self) -> AsyncConnectionPool[Conn]:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        return self._pool

    async def _with(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._pool_or_raise().connection() as conn:
            return await fn(conn)

    async def _admin(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `fn` in one transaction and bump the config version with it."""

        async def run(conn: Conn) -> T:
            async with transaction(conn):
                result = await fn(conn)
                await conn.execute(Q["config_bump"])
            return result

        return await self._with(run)

    # ------------------------------------------------------------ ingest log

    async def append(self, batch: Sequence[Submission]) -> list[Outcome]:
        return await self._with(lambda conn: ingest.append(conn, batch, now_ms()))

    async def maintain(self, now_ms: int) -> None:
        await self._with(lambda conn: ingest.maintain(conn, now_ms))

    # ------------------------------------------------------------ processing

    @contextlib.asynccontextmanager
    async def claim(self, max_records: int) -> AsyncIterator[Claim | None]:
        async with processing.store_errors(), self._pool_or_raise().connection() as conn:
            claim = await processing.claim(conn, PARTITIONS, max_records)
            if claim is None:
                yield None
                return
            try:
                yield claim
            finally:
                try:
                    await claim.release()
                except Exception:  # the session is closed then, which frees the partition too
                    log.debug("releasing a claim failed", exc_info=True)

    # ------------------------------------------------------------ dead letters

    async def _dead_letters(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        async with processing.store_errors():
            return await self._with(fn)

    async def dead_letters(self, account_id: int, limit: int, cursor: str | None) -> DeadLetterPage:
        return await self._dead_letters(lambda c: dead_letters.page(c, account_id, limit, cursor))

    async def count_dead_letters(self, account_id: int) -> int:
        return await self._dead_letters(lambda c: dead_letters.count(c, account_id))

    async def retry_dead_letters(self, account_id: int, ids: Sequence[int] | None) -> list[int]:
        return await self._dead_letters(lambda c: dead_letters.requeue(c, account_id, ids))

    async def drop_dead_letters(self, account_id: int, ids: Sequence[int] | None) -> list[int]:
        return await self._dead_letters(lambda c: dead_letters.drop(c, account_id, ids))

    # ------------------------------------------------------------ administration

    async def config_version(self) -> int:
        row = await self._with(lambda c: admin.one(c, Q["config_version"]))
        return int(row[0]) if row is not None else 0

    async def create_account(self, name: str, owner_email: str, limits: dict[str, int] | None = None) -> Credentials:
        api_key, data_key = acc_rules.new_api_key(), acc_rules.new_data_api_key()
        return await self._admin(lambda c: admin.create_account(c, name, owner_email, limits, api_key, data_key))

    async def list_accounts(self) -> list[Account]:
        async def run(conn: Conn) -> list[Account]:
            found = [await admin.account(conn, r) for r in await admin.many(conn, Q["accounts_all"])]
            return [a for a in found if a is not None]

        return await self._with(run)

    async def account_by_license(self, license_code: str) -> Account | None:
        return await self._with(
            lambda c: self._account_where(c, "account_by_license", license_code),
        )

    async def account_by_app_id(self, app_id: str) -> Account | None:
        return await self._with(lambda c: self._account_where(c, "account_by_app_id", app_id))

    @staticmethod
    async def _account_where(conn: Conn, query: str, value: str) -> Account | None:
        return await admin.account(conn, await admin.one(conn, Q[query], (value,)))

    async def set_limits(self, account_id: int, limits: dict[str, int]) -> Account:
        return await self._admin(lambda c: admin.set_limits(c, account_id, limits))

    async def rotate_data_api_key(self, account_id: int) -> str:
        key = acc_rules.new_data_api_key()

        async def run(conn: Conn) -> None:
            await conn.execute(Q["account_data_key"], (acc_rules.hash_key(key), account_id))

        await self._admin(run)
        return key

    async def add_member(
        self, account_id: int, email: str, role: str, permissions: frozenset[str]
    ) -> tuple[Member, str]:
        api_key = acc_rules.new_api_key()
        return await self._admin(lambda c: admin.add_member(c, account_id, email, role, permissions, api_key))

    async def list_members(self, account_id: int) -> list[Member]:
        async def run(conn: Conn) -> list[Member]:
            found = [admin.member(r) for r in await admin.many(conn, Q["members_of"], (account_id,))]
            return [m for m in found if m is not None]

        return await self._with(run)

    async def set_role(self, account_id: int, email: str, role: str, permissions: frozenset[str]) -> Member:
        return await self._admin(lambda c: admin.set_role(c, account_id, email, role, permissions))

    async def remove_member(self, account_id: int, email: str) -> None:
        await self._admin(lambda c: admin.remove_member(c, account_id, email))

    async def issue_key(self, account_id: int, email: str) -> str:
        api_key = acc_rules.new_api_key()
        return await self._admin(lambda c: admin.issue_key(c, account_id, email, api_key))

    async def revoke_key(self, account_id: int, email: str, by_email: str) -> None:
        await self._admin(lambda c: admin.revoke_key(c, account_id, email, by_email))

    async def list_keys(self, account_id: int) -> list[dict[str, Any]]:
        return await self._with(lambda c: admin.list_keys(c, account_id))

    async def principal(self, key_hash: str) -> Principal | None:
        return await self._with(lambda c: admin.principal(c, key_hash))

    # ------------------------------------------------------------ reads

    async def profile(self, account_id: int, kind: str, value: str) -> Profile | None:
        return await self._with(lambda c: reads.profile(c, account_id, kind, value))

    async def events(self, account_id: int, profile_id: int, limit: int, cursor: str | None) -> Page:
        return await self._with(lambda c: reads.events(c, account_id, profile_id, limit, cursor))

    async def stats(self, account_id: int) -> Stats:
        return await self._with(lambda c: reads.stats(c, account_id))

    async def schema(self, account_id: int) -> dict[str, Any]:
        return await self._with(lambda c: reads.schema(c, account_id))

    async def rejections(self, account_id: int, limit: int, cursor: str | None, user_id: str | None) -> Page:
        return await self._with(lambda c: reads.rejections(c, account_id, limit, cursor, user_id))

    async def merges(self, account_id: int, limit: int, cursor: str | None) -> Page:
        return await self._with(lambda c: reads.merges(c, account_id, limit, cursor))
