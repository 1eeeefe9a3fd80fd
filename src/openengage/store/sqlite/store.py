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
import hmac
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from openengage import accounts as acc_rules
from openengage.accounts import Account, Credentials, Member, Principal
from openengage.errors import Conflict, NotFound, PermissionDenied, StoreUnavailable
from openengage.store import common, migrations
from openengage.store.base import (
    Claim,
    DeadLetterPage,
    Outcome,
    Page,
    Profile,
    Stats,
    StoreStatus,
    Submission,
)
from openengage.store.sql import load_queries
from openengage.store.sqlite import dead_letters, processing

Q = load_queries("openengage.store.sqlite")
T = TypeVar("T")
_PACKAGE = "openengage.store.sqlite"


CHECKPOINT_SECONDS = 0.2
_APPEND_CHUNK = 500  # 4 parameters a row; SQLite allows 32,766 parameters a statement


@functools.cache
def _append_sql(rows: int) -> str:
    return Q["append_entry"] + ", (?, ?, ?, ?)" * (rows - 1)


def ingest_path(path: str) -> str:
    p = Path(path)
    return str(p.with_name(p.stem + ".ingest" + (p.suffix or ".db")))


def _now() -> int:
    return int(time.time() * 1000)


class SqliteStore:
    processing_lanes = 1  # one writer on the store file: a second lane would only wait for the lock

    def __init__(self, url: str, sync: str = "full") -> None:
        if not url.startswith("sqlite:///"):
            raise ValueError(f"not a SQLite URL: {url}")
        self.url = url
        self.path = url.removeprefix("sqlite:///")
        self.log_path = ingest_path(self.path)
        self.sync = "FULL" if sync == "full" else "NORMAL"
        self._local = threading.local()
        self._log_writer = ThreadPoolExecutor(1, thread_name_prefix="oe-log")
        self._main_writer = ThreadPoolExecutor(1, thread_name_prefix="oe-main")
        self._processor = ThreadPoolExecutor(1, thread_name_prefix="oe-proc")
        self._claiming = asyncio.Lock()
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="oe-read")
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None

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
        """Thread-local connections: 'log' and 'main' (writers), 'log_read', 'read' (main + log)."""
        conn: sqlite3.Connection | None = getattr(self._local, name, None)
        if conn is None:
            if name == "log":
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
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

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
        for pool in (self._log_writer, self._main_writer, self._processor, self._readers):
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
            if not Path(self.path).exists():
                todo = ["main", "ingest"]
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
                params = [v for s in chunk for v in (s.account_id, now, s.records, s.payload)]
                conn.execute(_append_sql(len(chunk)), params)
            if admission.request_ids:
                conn.executemany(Q["request_id_put"], [(a, r, now) for a, r in admission.request_ids])
            if admission.counters:
                conn.executemany(Q["window_put"], [(a, b, window, n) for (a, b), n in admission.counters.items()])
            if in_txn:
                conn.execute("COMMIT")
        except BaseException:
            if in_txn:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    async def maintain(self, now_ms: int) -> None:
        cursor = await self._run(self._readers, self._cursor)
        await self._run(self._log_writer, self._prune, cursor, now_ms)

    def _cursor(self) -> int:
        return int(self._conn("read").execute(Q["cursor_get"]).fetchone()[0])

    def _prune(self, cursor: int, now_ms: int) -> None:
        conn = self._conn("log")
        conn.execute(Q["prune_entries"], (cursor,))
        conn.execute(Q["prune_request_ids"], (now_ms - common.REQUEST_ID_TTL_MS,))

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
        """Run `fn` on the processing thread; errors that mean the store cannot be used become
        StoreUnavailable, the rest (about the data being written) pass through."""
        try:
            return await self._run(self._processor, fn, *args)
        except Exception as exc:
            mapped = processing.unavailable(exc)
            if mapped is None:
                raise
            raise mapped from exc

    # ------------------------------------------------------------ dead letters

    async def dead_letters(self, account_id: int, limit: int, cursor: str | None) -> DeadLetterPage:
        return await self._read(lambda c: dead_letters.page(c, account_id, limit, cursor))

    async def count_dead_letters(self, account_id: int) -> int:
        return await self._read(lambda c: dead_letters.count(c, account_id))

    async def retry_dead_letters(self, account_id: int, ids: Sequence[int] | None) -> list[int]:
        def run() -> list[int]:
            return dead_letters.requeue(self._conn("log"), self._conn("read"), account_id, ids)

        return await self._run(self._log_writer, run)

    async def drop_dead_letters(self, account_id: int, ids: Sequence[int] | None) -> list[int]:
        return await self._run(self._main_writer, lambda: dead_letters.drop(self._conn("main"), account_id, ids))

    # ------------------------------------------------------------ administration

    async def _admin(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one write transaction on the store file and bump the config version."""

        def run() -> T:
            conn = self._conn("main")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute(Q["config_bump"])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result

        return await self._run(self._main_writer, run)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._readers, lambda: fn(self._conn("read")))

    async def config_version(self) -> int:
        return await self._read(lambda c: int(c.execute(Q["config_version"]).fetchone()[0]))

    @staticmethod
    def _account(conn: sqlite3.Connection, row: Sequence[Any] | None) -> Account | None:
        if row is None:
            return None
        limits = dict(conn.execute(Q["limits_of"], (row[0],)).fetchall())
        return Account(row[0], row[1], row[2], row[3], limits, row[4])

    async def create_account(self, name: str, owner_email: str, limits: dict[str, int] | None = None) -> Credentials:
        api_key = acc_rules.new_api_key()
        data_key = acc_rules.new_data_api_key()

        def run(conn: sqlite3.Connection) -> Credentials:
            now = _now()
            for _ in range(10):
                license_code, app_id = acc_rules.new_license_code(), acc_rules.new_app_id()
                try:
                    cur = conn.execute(
                        Q["account_insert"], (name, license_code, app_id, acc_rules.hash_key(data_key), now)
                    )
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - 10 collisions of 32 random bits
                raise Conflict("could not allocate a unique license code")
            account_id = int(cur.lastrowid or 0)
            for limit_name, per_minute in (limits or {}).items():
                conn.execute(Q["limit_put"], (account_id, limit_name, per_minute))
            perms = acc_rules.role_permissions("admin")
            member = conn.execute(
                Q["member_insert"], (account_id, owner_email, "admin", common.json_encode(sorted(perms)), now)
            ).lastrowid
            conn.execute(Q["key_insert"], (member, account_id, acc_rules.hash_key(api_key), api_key[-4:], now))
            return Credentials(account_id, name, license_code, app_id, api_key, data_key, owner_email)

        return await self._admin(run)

    async def list_accounts(self) -> list[Account]:
        def run(conn: sqlite3.Connection) -> list[Account]:
            rows = conn.execute(Q["accounts_all"]).fetchall()
            return [a for a in (self._account(conn, r) for r in rows) if a is not None]

        return await self._read(run)

    async def account_by_license(self, license_code: str) -> Account | None:
        return await self._read(
            lambda c: self._account(c, c.execute(Q["account_by_license"], (license_code,)).fetchone())
        )

    async def account_by_app_id(self, app_id: str) -> Account | None:
        return await self._read(lambda c: self._account(c, c.execute(Q["account_by_app_id"], (app_id,)).fetchone()))

    async def set_limits(self, account_id: int, limits: dict[str, int]) -> Account:
        def run(conn: sqlite3.Connection) -> Account:
            for limit_name, per_minute in limits.items():
                conn.execute(Q["limit_put"], (account_id, limit_name, per_minute))
            account = self._account(conn, conn.execute(Q["account_by_id"], (account_id,)).fetchone())
            if account is None:
                raise NotFound(f"no account with id {account_id}")
            return account

        return await self._admin(run)

    async def rotate_data_api_key(self, account_id: int) -> str:
        key = acc_rules.new_data_api_key()
        await self._admin(lambda c: c.execute(Q["account_data_key"], (acc_rules.hash_key(key), account_id)))
        return key

    @staticmethod
    def _member(row: Sequence[Any] | None) -> Member | None:
        if row is None:
            return None
        return Member(row[0], row[1], row[2], row[3], frozenset(common.json_decode(row[4])), bool(row[5]))

    def _member_or_raise(self, conn: sqlite3.Connection, account_id: int, email: str) -> Member:
        member = self._member(conn.execute(Q["member_get"], (account_id, email)).fetchone())
        if member is None:
            raise NotFound(f"no team member '{email}' in this account")
        return member

    async def add_member(
        self, account_id: int, email: str, role: str, permissions: frozenset[str]
    ) -> tuple[Member, str]:
        api_key = acc_rules.new_api_key()

        def run(conn: sqlite3.Connection) -> tuple[Member, str]:
            now = _now()
            try:
                mid = conn.execute(
                    Q["member_insert"],
                    (account_id, email, role, common.json_encode(sorted(permissions)), now),
                ).lastrowid
            except sqlite3.IntegrityError:
                raise Conflict(f"team member '{email}' already exists") from None
            conn.execute(Q["key_insert"], (mid, account_id, acc_rules.hash_key(api_key), api_key[-4:], now))
            return self._member_or_raise(conn, account_id, email), api_key

        return await self._admin(run)

    async def list_members(self, account_id: int) -> list[Member]:
        def run(conn: sqlite3.Connection) -> list[Member]:
            return [m for m in (self._member(r) for r in conn.execute(Q["members_of"], (account_id,))) if m]

        return await self._read(run)

    async def set_role(self, account_id: int, email: str, role: str, permissions: frozenset[str]) -> Member:
        def run(conn: sqlite3.Connection) -> Member:
            member = self._member_or_raise(conn, account_id, email)
            conn.execute(Q["member_role"], (role, common.json_encode(sorted(permissions)), member.id))
            conn.execute(Q["keys_revoke_member"], (_now(), "role changed", member.id))
            return self._member_or_raise(conn, account_id, email)

        return await self._admin(run)

    async def remove_member(self, account_id: int, email: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            member = self._member_or_raise(conn, account_id, email)
            conn.execute(Q["keys_revoke_member"], (_now(), "member deleted", member.id))
            conn.execute(Q["member_delete"], (member.id,))

        await self._admin(run)

    async def issue_key(self, account_id: int, email: str) -> str:
        api_key = acc_rules.new_api_key()

        def run(conn: sqlite3.Connection) -> str:
            member = self._member_or_raise(conn, account_id, email)
            now = _now()
            conn.execute(Q["keys_revoke_member"], (now, "replaced", member.id))
            conn.execute(Q["key_insert"], (member.id, account_id, acc_rules.hash_key(api_key), api_key[-4:], now))
            return api_key

        return await self._admin(run)

    async def revoke_key(self, account_id: int, email: str, by_email: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            actor = self._member_or_raise(conn, account_id, by_email)
            if not acc_rules.can_revoke_keys(actor.permissions):
                raise PermissionDenied(
                    f"'{by_email}' lacks the Update Data Management permission needed to revoke keys"
                )
            member = self._member_or_raise(conn, account_id, email)
            conn.execute(Q["keys_revoke_member"], (_now(), f"revoked by {by_email}", member.id))

        await self._admin(run)

    async def list_keys(self, account_id: int) -> list[dict[str, Any]]:
        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [
                {
                    "member": r[0],
                    "hint": "…" + r[1],
                    "created_at": r[2],
                    "revoked_at": r[3],
                    "revoked_reason": r[4],
                }
                for r in conn.execute(Q["keys_of"], (account_id,))
            ]

        return await self._read(run)

    async def principal(self, key_hash: str) -> Principal | None:
        def run(conn: sqlite3.Connection) -> Principal | None:
            row = conn.execute(Q["principal"], (key_hash,)).fetchone()
            if row is None or not hmac.compare_digest(row[0], key_hash):
                return None
            return Principal(row[1], row[2], row[3], frozenset(common.json_decode(row[4])))

        return await self._read(run)

    # ------------------------------------------------------------ reads

    async def profile(self, account_id: int, kind: str, value: str) -> Profile | None:
        def run(conn: sqlite3.Connection) -> Profile | None:
            ident = conn.execute(Q["identity_get"], (account_id, kind, value)).fetchone()
            if ident is None:
                return None
            row = conn.execute(Q["profile_get"], (ident[0], account_id)).fetchone()
            if row is None:
                return None
            anon = [r[0] for r in conn.execute(Q["profile_anonymous_ids"], (row[0],))]
            devices = [common.json_decode(r[0]) for r in conn.execute(Q["profile_devices"], (row[0],))]
            return Profile(row[0], row[1], common.profile_data(row), anon, devices)

        return await self._read(run)

    async def events(self, account_id: int, profile_id: int, limit: int, cursor: str | None) -> Page:
        after = common.decode_cursor(cursor, 2) or (common.MAX_INT, common.MAX_INT)

        def run(conn: sqlite3.Connection) -> Page:
            rows = conn.execute(Q["events_page"], (profile_id, account_id, after[0], after[1], limit + 1)).fetchall()
            nxt = common.encode_cursor(rows[limit - 1][4], rows[limit - 1][0]) if len(rows) > limit else None
            return Page([common.event_item(r) for r in rows[:limit]], nxt)

        return await self._read(run)

    async def stats(self, account_id: int) -> Stats:
        def run(conn: sqlite3.Connection) -> Stats:
            conn.execute("BEGIN")  # one snapshot across both files
            try:
                row = conn.execute(Q["stats_get"], (account_id,)).fetchone() or (0, 0, 0)
                cursor = conn.execute(Q["cursor_get"]).fetchone()[0]
                pending = conn.execute(Q["pending_records"], (account_id, cursor)).fetchone()[0]
            finally:
                conn.execute("COMMIT")
            return Stats(row[0], row[1], row[2], int(pending))

        return await self._read(run)

    async def schema(self, account_id: int) -> dict[str, Any]:
        return await self._read(lambda c: common.schema_doc(c.execute(Q["schema_all"], (account_id,)).fetchall()))

    async def rejections(self, account_id: int, limit: int, cursor: str | None, user_id: str | None) -> Page:
        before = (common.decode_cursor(cursor, 1) or (common.MAX_INT,))[0]

        def run(conn: sqlite3.Connection) -> Page:
            rows = conn.execute(Q["rejections_page"], (account_id, before, user_id, user_id, limit + 1)).fetchall()
            nxt = common.encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
            return Page([common.rejection_item(r) for r in rows[:limit]], nxt)

        return await self._read(run)

    async def merges(self, account_id: int, limit: int, cursor: str | None) -> Page:
        before = (common.decode_cursor(cursor, 1) or (common.MAX_INT,))[0]

        def run(conn: sqlite3.Connection) -> Page:
            rows = conn.execute(Q["merges_page"], (account_id, before, limit + 1)).fetchall()
            nxt = common.encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
            return Page([common.merge_item(r) for r in rows[:limit]], nxt)

        return await self._read(run)
