"""SQLite store: two WAL files, one writer thread each, a small pool of readers.

- `PATH` holds accounts, profiles, events and everything the processor writes;
- `PATH` with `.ingest` before its suffix holds the ingest log, request ids and rate windows.
Two files so that API appends and processor transactions never queue on one write lock. The
processor acknowledges an entry by advancing `processor_cursor` in the store file, in the same
transaction as the entry's effects: exactly-once without a transaction spanning both files (claims:
processing.py, on a thread and connection of their own; dead letters: dead_letters.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from openengage import metrics
from openengage.accounts import SYSTEM, Actor
from openengage.errors import CommitUnknown, StoreUnavailable
from openengage.store import common, migrations
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
from openengage.store.reads import Reads
from openengage.store.sql import load_queries
from openengage.store.sqlite import dead_letters, outbox, processing
from openengage.store.sqlite.executor import SqliteExecutor
from openengage.store.traces import TRACE_RETENTION_MS, Traces

Q = load_queries("openengage.store.sqlite")
T = TypeVar("T")
_PACKAGE = "openengage.store.sqlite"
log = logging.getLogger("openengage.store.sqlite")
_MIB = 1 << 20


CHECKPOINT_SECONDS = 0.2
# Pruning the ingest log takes its write lock, which every append needs too (and, from another process,
# waits for with SQLite's busy handler: sleeps of 1, 2, 5, 10 ... 100 ms). One DELETE of everything
# applied held it for 0.5-0.8 s under load (bulk p99 261-311 ms with the processor on); chunks of this
# many entries hold it for a few ms each, with a pause between them for appends to get in.
PRUNE_CHUNK = 100
PRUNE_PAUSE = 0.003  # seconds between prune chunks
_APPEND_CHUNK = 500  # 4 parameters a row; SQLite allows 32,766 parameters a statement


@functools.cache
def _append_sql(rows: int) -> str:
    return Q["append_entry"] + ", (?, ?, ?, ?, ?, ?, ?, ?)" * (rows - 1)


_NO_TRACE = (None, None, None, None)  # a log row without a request trace (imports, the outbox)


def ingest_path(path: str) -> str:
    p = Path(path)
    return str(p.with_name(p.stem + ".ingest" + (p.suffix or ".db")))


def _now() -> int:
    return int(time.time() * 1000)


def _commit_error(exc: sqlite3.Error) -> StoreUnavailable:
    """What a failed commit (COMMIT, or a lone INSERT's implicit one) means for the request. SQLite
    undoes a commit that fails for room, locks or permissions; an I/O error while writing the WAL may
    leave the commit record on disk, so its outcome is unknown."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_IOERR"):
        return CommitUnknown(f"SQLite could not finish a commit: {exc}")
    return StoreUnavailable(f"SQLite cannot commit: {exc}")


class SqliteStore(Messaging, Access, Reads, DeadLetters, Privacy, Business, Browse, Traces):
    """Administration, reads, dashboard access, most of the dead letters, messaging's admin, GDPR requests and
    business events come from store/admin.py, store/reads.py, store/access.py, store/dead_letters.py,
    store/messaging.py, store/gdpr.py and store/business.py, and the dashboard's data reads from
    store/browse.py, over `self.ex`."""

    processing_lanes = 1  # one writer on the store file: a second lane would only wait for the lock

    @staticmethod
    def in_list(values: list[Any]) -> Any:
        """Lists are JSON text on SQLite: its queries read them with json_each (store/browse.py)."""
        return common.json_encode(values).decode()

    def __init__(self, url: str, sync: str = "full", min_free_mb: int = 0) -> None:
        if not url.startswith("sqlite:///"):
            raise ValueError(f"not a SQLite URL: {url}")
        self.url = url
        self.path = url.removeprefix("sqlite:///")
        self.log_path = ingest_path(self.path)
        self.sync = "FULL" if sync == "full" else "NORMAL"
        # Ingest stops below this much free disk, so the processor always has room for the backlog.
        self.min_free_bytes = min_free_mb * _MIB
        self._append_failing = False
        self._local = threading.local()
        self._log_writer = ThreadPoolExecutor(1, thread_name_prefix="oe-log")
        self._processor = ThreadPoolExecutor(1, thread_name_prefix="oe-proc")
        self._pruner = ThreadPoolExecutor(1, thread_name_prefix="oe-prune")
        self._claiming = asyncio.Lock()
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="oe-read")
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._executor = SqliteExecutor(Q, self._readers, lambda: self._conn("read"), lambda: self._connect(self.path))
        self.ex = self._executor

    # ------------------------------------------------------------ connections

    def _connect(self, path: str, *, readonly: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA synchronous = {self.sync}")
        if readonly:
            conn.execute("PRAGMA query_only = 1")
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _conn(self, name: str) -> sqlite3.Connection:
        """Thread-local connections: 'log' and 'main' (writers: the log writer's, the processor's),
        'log_prune' (the pruner's), 'log_read', 'read' (main + log)."""
        conn: sqlite3.Connection | None = getattr(self._local, name, None)
        if conn is None:
            if name == "log_prune":
                conn = self._connect(self.log_path)
                # Deleting what was applied need not be durable (a lost prune is done again next time): no
                # fsync while the pruner holds the log's write lock.
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA wal_autocheckpoint = 0")  # as for 'log': checkpoints run on their thread
                self._start_checkpoints()
            elif name == "log":
                conn = self._connect(self.log_path)
                # Checkpoints run on their own thread (see _checkpoints), never inside an ack's commit.
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._start_checkpoints()
            elif name == "log_read":
                conn = self._connect(self.log_path, readonly=True)
            elif name == "main":
                conn = self._connect(self.path)
            else:
                conn = self._connect(self.path)
                conn.execute("ATTACH DATABASE ? AS log", (self.log_path,))
                conn.execute("PRAGMA query_only = 1")
            setattr(self._local, name, conn)
        return conn

    def _start_checkpoints(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = threading.Thread(target=self._checkpoints, name="oe-checkpoint", daemon=True)
            self._checkpointer.start()

    def _checkpoints(self) -> None:
        """Copy the ingest log's WAL into the database file in the background (PASSIVE: never blocks
        appends). A checkpoint inside a commit would hold up every request waiting on that commit."""
        conn = self._connect(self.log_path)
        while not self._closing.wait(CHECKPOINT_SECONDS):
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # busy or closing: the next round will do it
                continue

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except sqlite3.OperationalError as exc:  # disk full or failing, read-only, locked too long, gone
            metrics.STORE_ERRORS.inc()
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        except StoreUnavailable:
            metrics.STORE_ERRORS.inc()
            raise

    def _free_bytes(self) -> int:
        st = os.statvfs(os.path.dirname(os.path.abspath(self.log_path)))
        if st.f_flag & os.ST_RDONLY:
            return 0
        return st.f_bavail * st.f_frsize

    def _check_room(self) -> None:
        """Refuse new data below the free-space floor: what was accepted can then still be applied."""
        if self.min_free_bytes and (free := self._free_bytes()) < self.min_free_bytes:
            raise StoreUnavailable(
                f"{free // _MIB} MiB free on the disk of {self.path}, below the floor of "
                f"{self.min_free_bytes // _MIB} MiB (min_free_mb): ingest is paused so the processor keeps room"
            )

    async def health(self) -> None:
        """Raises StoreUnavailable unless the store can take writes: room on the disk, files readable."""
        if self._free_bytes() == 0:
            raise StoreUnavailable(f"the disk of {self.path} is full or read-only")
        self._check_room()
        await self.config_version()

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        status = await self.check()
        if not status.reachable:
            raise StoreUnavailable(status.detail)
        if not status.migrated:
            raise StoreUnavailable(
                f"the SQLite store {self.path} is not migrated ({len(status.pending_migrations)} pending); "
                "run `openengage migrate`"
            )

    async def close(self) -> None:
        self._closing.set()
        self._executor.close()
        for pool in (self._log_writer, self._processor, self._pruner, self._readers):
            pool.shutdown(wait=True)
        if self._checkpointer is not None:
            self._checkpointer.join()
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def _wal(self) -> None:
        for path in (self.path, self.log_path):
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()

    async def migrate(self) -> list[str]:
        def run() -> list[str]:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._wal()
            done = migrations.apply("sqlite:///" + self.path, _PACKAGE, "main")
            done += migrations.apply("sqlite:///" + self.log_path, _PACKAGE, "ingest")
            return done

        return await asyncio.to_thread(run)

    async def check(self) -> StoreStatus:
        def run() -> StoreStatus:
            parent = Path(self.path).parent
            if not parent.exists():
                return StoreStatus(False, False, [], f"directory {parent} does not exist")
            if not Path(self.path).exists():  # what `migrate` would apply: every migration of both files
                todo = migrations.available(_PACKAGE, "main") + migrations.available(_PACKAGE, "ingest")
                return StoreStatus(True, False, todo, f"{self.path} does not exist yet")
            try:
                todo = migrations.pending("sqlite:///" + self.path, _PACKAGE, "main")
                todo += migrations.pending("sqlite:///" + self.log_path, _PACKAGE, "ingest")
            except sqlite3.Error as exc:
                return StoreStatus(False, False, [], f"cannot open {self.path}: {exc}")
            return StoreStatus(True, not todo, todo, "")

        return await asyncio.to_thread(run)

    # ------------------------------------------------------------ ingest log

    async def append(self, batch: Sequence[Submission]) -> list[Outcome]:
        return await self._run(self._log_writer, self._append, batch)

    def _append(self, batch: Sequence[Submission]) -> list[Outcome]:
        try:
            outcomes = self._append_batch(batch)
        except sqlite3.Error as exc:
            if not self._append_failing:  # the real error, once per streak (not ROLLBACK's, not per batch)
                log.error("ingest log append failed: %s", exc, extra={"action": "append_failed"})
            self._append_failing = True
            raise _commit_error(exc) from exc
        if self._append_failing:
            log.info("ingest log appends work again", extra={"action": "append_recovered"})
            self._append_failing = False
        return outcomes

    def _append_batch(self, batch: Sequence[Submission]) -> list[Outcome]:
        self._check_room()
        conn = self._conn("log")
        now = _now()
        window = common.window_of(now)
        in_txn = False

        def begin() -> None:
            nonlocal in_txn
            if not in_txn:
                conn.execute("BEGIN IMMEDIATE")
                in_txn = True

        # Reads for dedupe and limits happen inside the write transaction, opened by the first one.
        def seen(sub: Submission) -> bool:
            begin()
            row = conn.execute(Q["request_id_seen"], (sub.account_id, sub.request_id)).fetchone()
            return row is not None and row[0] > now - common.REQUEST_ID_TTL_MS

        def used(account_id: int, bucket: str) -> int:
            begin()
            row = conn.execute(Q["window_get"], (account_id, bucket)).fetchone()
            return int(row[1]) if row is not None and row[0] == window else 0

        try:
            admission = common.Admission(now, seen, used)
            outcomes = admission.decide(batch)
            rows = admission.accepted
            if len(rows) > _APPEND_CHUNK:
                begin()
            # One multi-row INSERT per chunk: a single sqlite3_step, so the writer thread gives up and
            # retakes the GIL once, not once per row (the event loop holds it meanwhile). With nothing
            # read (no request ids, no limits) that one statement is the whole transaction.
            for start in range(0, len(rows), _APPEND_CHUNK):
                chunk = rows[start : start + _APPEND_CHUNK]
                # Each row carries its request trace (store/traces.py): request id, endpoint, received, subjects.
                params = [v for s in chunk for v in (s.account_id, now, s.records, s.payload, *(s.trace or _NO_TRACE))]
                conn.execute(_append_sql(len(chunk)), params)
            if admission.request_ids:
                conn.executemany(Q["request_id_put"], [(a, r, now) for a, r in admission.request_ids])
            if admission.counters:
                conn.executemany(Q["window_put"], [(a, b, window, n) for (a, b), n in admission.counters.items()])
            if in_txn:
                conn.execute("COMMIT")
        except BaseException:
            # After a failed COMMIT SQLite may already have rolled back: ROLLBACK would then fail and
            # its error would hide the real one.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as exc:
                    log.warning("ROLLBACK after a failed append failed too: %s", exc, extra={"action": "rollback"})
            raise
        return outcomes

    async def maintain(self, now_ms: int) -> None:
        cursor = await self._run(self._readers, self._cursor)
        # Its own thread and connection: never queued behind (or in front of) appends on the log writer.
        await self._run(self._pruner, self._prune, cursor, now_ms)
        async with self.ex.transaction() as tx:
            await tx.run("processed_marks_prune", now_ms - TRACE_RETENTION_MS)

    async def delete_request_traces(self, log_ids: Sequence[int]) -> None:
        def run() -> None:
            conn = self._conn("log")
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(Q["request_delete"], [(i,) for i in log_ids])
                conn.executemany(Q["entry_forget_request"], [(i,) for i in log_ids])  # not yet moved
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(self._log_writer, run)

    def _cursor(self) -> int:
        return int(self._conn("read").execute(Q["cursor_get"]).fetchone()[0])

    def _prune(self, cursor: int, now_ms: int) -> None:
        """Delete applied entries and expired request ids in short transactions (see PRUNE_CHUNK). Applied
        entries leave the log; their request traces stay (store/traces.py), in the same chunk's commit."""
        conn = self._conn("log_prune")
        first = conn.execute(Q["prune_first"]).fetchone()[0]
        after = cursor if first is None else int(first) - 1
        while after < cursor and not self._closing.is_set():
            upto = min(cursor, after + PRUNE_CHUNK)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(Q["requests_keep"], (after, upto))
                conn.execute(Q["prune_entries"], (after, upto))
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            after = upto
            time.sleep(PRUNE_PAUSE)
        expiry = now_ms - common.REQUEST_ID_TTL_MS
        expired = conn.execute(Q["request_ids_expired"], (expiry,)).fetchall()
        for start in range(0, len(expired), PRUNE_CHUNK):
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    Q["prune_request_id"], [(a, r, expiry) for a, r in expired[start : start + PRUNE_CHUNK]]
                )
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            time.sleep(PRUNE_PAUSE)
        conn.execute(Q["requests_prune"], (now_ms - TRACE_RETENTION_MS,))

    # ------------------------------------------------------------ processing

    @contextlib.asynccontextmanager
    async def claim(self, max_records: int) -> AsyncIterator[Claim | None]:
        async with self._claiming:  # one claim at a time: they share the processing connection
            cursor, entries = await self._processing(processing.start, self._processing_conns, max_records)
            if not entries:
                yield None
                return
            claim = processing.SqliteClaim(self._processing, self._processing_conns, cursor, entries)
            try:
                yield claim
            finally:
                await claim.release()

    def _processing_conns(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        """The processing thread's connections: the store file (its own, never the admin writer's, so a
        claim's open transaction and an admin change never share one) and the log, read-only."""
        return self._conn("main"), self._conn("log_read")

    async def _processing(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the processing thread. Errors that mean the store cannot be used become
        StoreUnavailable; the rest, about the data being written, pass through for the processor to
        isolate (not `_run`: it takes every OperationalError for an outage)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._processor, fn, *args)
        except Exception as exc:
            mapped = processing.unavailable(exc)
            if mapped is None:
                raise
            metrics.STORE_ERRORS.inc()
            raise mapped from exc

    # ------------------------------------------------------------ dead letters

    async def retry_dead_letters(self, account_id: int, ids: Sequence[int] | None, actor: Actor = SYSTEM) -> list[int]:
        """Listing, counting and dropping are written once (store/dead_letters.py); a retry is not: it
        appends to the ingest log, another file (see dead_letters.requeue)."""

        def run() -> list[int]:
            return dead_letters.requeue(self._conn("log"), self._conn("read"), account_id, ids)

        queued = await self._run(self._log_writer, run)
        await self._audit_retry(account_id, queued, actor)
        return queued

    # ------------------------------------------------------------ the outbox (issue #10)

    async def enqueue(self, batch: Sequence[TxnSubmission]) -> list[TxnOutcome]:
        def run() -> list[TxnOutcome]:
            self._check_room()
            try:
                return outbox.enqueue(self._conn("log"), batch, _now())
            except sqlite3.OperationalError as exc:
                raise _commit_error(exc) from exc

        return await self._run(self._log_writer, run)

    async def claim_messages(self, owner: str, limit: int, lease_ms: int) -> list[Outgoing]:
        # A read first: an idle sender polls without ever taking the log file's write lock.
        cursor = await self._run(self._readers, self._cursor)
        now = _now()
        if not await self._run(self._readers, lambda: outbox.due(self._conn("log_read"), now, cursor, 1)):
            return []
        return await self._run(self._log_writer, lambda: outbox.claim(self._conn("log"), owner, limit, lease_ms,
                                                                      _now(), cursor))  # fmt: skip

    async def finish_messages(self, outcomes: Sequence[tuple[Outgoing, Finish]]) -> list[bool]:
        return await self._run(self._log_writer, lambda: outbox.finish(self._conn("log"), outcomes, _now()))

    async def prune_outbox(self, cutoff: int, limit: int) -> int:
        return await self._run(self._log_writer, lambda: outbox.prune(self._conn("log"), cutoff, limit))

    async def _erase_outbox(self, tx: Tx, account_id: int, users: list[str], now: int) -> int | None:
        # The outbox is in the log file: its own commit, on the log writer (serial with every claim), made
        # while the erasure's transaction on the store file is still open (store/gdpr.py says why).
        return await self._run(self._log_writer, lambda: outbox.erase_users(self._conn("log"), account_id, users, now))
