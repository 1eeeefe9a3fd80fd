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

from openengage import metrics
from openengage.accounts import SYSTEM, Actor
from openengage.errors import CommitUnknown, StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store import migrations
from openengage.store.access import Access
from openengage.store.base import (
    Claim,
    Finish,
    Outcome,
    Outgoing,
    StoreStatus,
    Submission,
    Tx,
    TxnOutcome,
    TxnSubmission,
)
from openengage.store.browse import Browse
from openengage.store.business import Business
from openengage.store.dead_letters import DeadLetters
from openengage.store.gdpr import Privacy
from openengage.store.messaging import Messaging
from openengage.store.postgres import dead_letters, ingest, outbox, processing
from openengage.store.postgres.connection import (
    CONNECT_TIMEOUT,
    LOCK_MIGRATE,
    Conn,
    connect,
    make_pool,
    normalize_url,
    one_line,
    redact,
    unavailable,
    unreachable,
    yoyo_url,
)
from openengage.store.postgres.executor import PostgresExecutor
from openengage.store.postgres.partition import PARTITIONS
from openengage.store.reads import Reads
from openengage.store.sql import load_queries
from openengage.store.traces import Traces

Q = load_queries("openengage.store.postgres")
T = TypeVar("T")
_PACKAGE = "openengage.store.postgres"
log = logging.getLogger("openengage.store.postgres")


def _forget(task: asyncio.Future[Any]) -> None:
    """Collect the outcome of an abandoned operation, so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


class PostgresStore(Messaging, Access, Reads, DeadLetters, Privacy, Business, Browse, Traces):
    """Administration, reads, dashboard access, most of the dead letters, messaging's admin, GDPR requests and
    business events come from store/admin.py, store/reads.py, store/access.py, store/dead_letters.py,
    store/messaging.py, store/gdpr.py and store/business.py, and the dashboard's data reads from
    store/browse.py, over `self.ex`."""

    # The processor runs two claims at once, on separate connections: while one lane waits on
    # PostgreSQL the other plans, so a node's processor keeps its core busy.
    processing_lanes = 2

    # Group commit keeps two appends in flight: a commit mostly waits on the server's fsync, and two
    # concurrent commits share it (in-process, 16 requests a commit: 1,934 -> 2,785 appends/s; over
    # HTTP on the shared 2-core machine the gain is smaller, 0-15%).
    append_concurrency = 2
    # The live tail looks again at the events of the last 64 log entries: partitions are applied in
    # parallel, so a lower event id may be stored after higher ones (store/browse.py).
    tail_lookback = 64 << 16

    def __init__(
        self, url: str, pool_min: int = 2, pool_max: int = 10, wait: float = 2.0, timeout: float = 10.0
    ) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"not a PostgreSQL URL: {url}")
        self.url = url
        self.conninfo = normalize_url(url)
        self.pool_min = pool_min
        self.pool_max = pool_max
        self.wait = wait  # longest wait for a pooled connection (store_wait)
        self.timeout = timeout  # longest wait for one whole operation (store_timeout)
        # Longest wait for one operation of a processing claim (a batch's load, write or commit is bigger
        # than a request's): past it the connection is taken for dead (processing.Deadline).
        self.claim_timeout = max(30.0, 3 * timeout)
        self._pool: AsyncConnectionPool[Conn] | None = None
        self.ex = PostgresExecutor(Q, self._pool_or_raise)

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
        pool: AsyncConnectionPool[Conn] = make_pool(self.conninfo, self.pool_min, self.pool_max, self.wait)
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

    async def _with(self, fn: Callable[[Conn], Awaitable[T]], *, commits: bool = False) -> T:
        """Run `fn` on a pooled connection. Outages become StoreUnavailable within `wait` seconds (no
        connection to be had) or `timeout` seconds (a connection that stopped answering). On a timeout
        the operation is left to finish or fail on its own (cancelling a psycopg query waits for the
        server's reply, which a dead network never sends), so an operation that `commits` may still
        commit: CommitUnknown then."""
        pool = self._pool_or_raise()

        async def run() -> T:
            async with pool.connection() as conn:
                return await fn(conn)

        task = asyncio.ensure_future(run())
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            task.add_done_callback(_forget)
            metrics.STORE_ERRORS.inc()
            kind = CommitUnknown if commits else StoreUnavailable
            raise kind(f"PostgreSQL at {redact(self.url)} did not answer within {self.timeout:g} s") from None
        except psycopg.Error as exc:
            if not unavailable(exc):
                raise
            metrics.STORE_ERRORS.inc()
            raise StoreUnavailable(f"PostgreSQL at {redact(self.url)}: {one_line(exc)}") from exc
        except StoreUnavailable:  # CommitUnknown from transaction()
            metrics.STORE_ERRORS.inc()
            raise

    # ------------------------------------------------------------ ingest log

    async def append(self, batch: Sequence[Submission]) -> list[Outcome]:
        return await self._with(lambda conn: ingest.append(conn, batch, now_ms()), commits=True)

    async def health(self) -> None:
        """Raises StoreUnavailable unless a connection answers within the store's waits."""

        async def ping(conn: Conn) -> None:
            await conn.execute("SELECT 1")

        await self._with(ping)

    async def maintain(self, now_ms: int) -> None:
        await self._with(lambda conn: ingest.maintain(conn, now_ms))

    async def delete_request_traces(self, log_ids: Sequence[int]) -> None:
        async with self.ex.transaction() as tx:
            for log_id in log_ids:
                await tx.run("entry_forget_request", log_id)  # still in the log: it is not kept
                await tx.run("request_delete", log_id)

    # ------------------------------------------------------------ processing

    @contextlib.asynccontextmanager
    async def claim(self, max_records: int) -> AsyncIterator[Claim | None]:
        async with processing.store_errors(), self._pool_or_raise().connection() as conn:
            deadline = processing.Deadline(conn, self.claim_timeout)
            claim = await processing.claim(conn, PARTITIONS, max_records, deadline)
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

    async def retry_dead_letters(self, account_id: int, ids: Sequence[int] | None, actor: Actor = SYSTEM) -> list[int]:
        """Listing, counting and dropping are written once (store/dead_letters.py); a retry appends to
        the ingest log, in the entry's partition (see dead_letters.requeue)."""

        async def run(conn: Conn) -> list[int]:
            return await dead_letters.requeue(conn, account_id, ids)

        async with processing.store_errors():
            queued = await self._with(run)
        await self._audit_retry(account_id, queued, actor)
        return queued

    # ------------------------------------------------------------ the outbox (issue #10)

    async def enqueue(self, batch: Sequence[TxnSubmission]) -> list[TxnOutcome]:
        return await self._with(lambda conn: outbox.enqueue(conn, batch, now_ms()), commits=True)

    async def claim_messages(self, owner: str, limit: int, lease_ms: int) -> list[Outgoing]:
        return await self._with(lambda conn: outbox.claim(conn, owner, limit, lease_ms, now_ms()))

    async def finish_messages(self, outcomes: Sequence[tuple[Outgoing, Finish]]) -> list[bool]:
        return await self._with(lambda conn: outbox.finish(conn, outcomes, now_ms()), commits=True)

    async def prune_outbox(self, cutoff: int, limit: int) -> int:
        return await self._with(lambda conn: outbox.prune(conn, cutoff, limit), commits=True)

    async def _erase_outbox(self, tx: Tx, account_id: int, users: list[str], now: int) -> int | None:
        # In the erasure's own transaction: the person's transactions, then messages, locked (claims skip
        # locked messages), then deleted.
        await tx.all("outbox_user_transactions_lock", account_id, users)
        if any(bool(leased) for _, leased in await tx.all("outbox_user_lock", now, account_id, users)):
            return None
        await tx.run("outbox_erase_attempts", account_id, users)
        await tx.run("outbox_erase_messages", account_id, users)
        return await tx.run("outbox_erase_transactions", account_id, users)
