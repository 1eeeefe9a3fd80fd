"""Processing on SQLite: claims over the ingest log, and the writes that apply them.

The store file's `processor_cursor` is the acknowledgement: the highest log id applied (or dead-lettered),
advanced in the same transaction as the entries' effects, so a crash loses or repeats nothing. Every
unit of work is one `BEGIN IMMEDIATE` transaction on the store file, run on the store's processing
thread; each one first checks that the cursor is where this claim left it (another `openengage
process` on the same files may have moved it: Contention, and the entries are claimed afresh).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store import common
from openengage.store.base import Contention, Effects, Needs, QueuedEntry, State, StoredProfile
from openengage.store.sql import load_queries
from openengage.store.sqlite import derived

Q = load_queries("openengage.store.sqlite")
log = logging.getLogger("openengage.store.sqlite")

# Runs a function on the store's processing thread with that thread's connections (store file, log).
Runner = Callable[..., Awaitable[Any]]
Connections = Callable[[], tuple[sqlite3.Connection, sqlite3.Connection]]

# Result codes that say the database cannot be used or cannot commit right now (not this entry's
# fault): busy beyond the busy timeout, read-only, I/O error, disk full, cannot open, corrupt.
_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable a driver error stands for, or None when it is about the data."""
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        return StoreUnavailable(f"the SQLite store is closed: {exc}")
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _UNAVAILABLE:
        return StoreUnavailable(f"the SQLite store cannot be written: {exc}")
    return None


def start(conns: Connections, max_records: int) -> tuple[int, list[QueuedEntry]]:
    """Open the first transaction and read the claim: (cursor, entries); no transaction when empty."""
    main, log = conns()
    if main.in_transaction:  # a rollback that failed last time (disk trouble): start clean
        main.execute("ROLLBACK")
    main.execute("BEGIN IMMEDIATE")
    try:
        cursor = int(main.execute(Q["cursor_get"]).fetchone()[0])
        # Sizes first, payloads only for the entries taken: a backlog of big entries is never read whole.
        sizes = common.take_records(log.execute(Q["claim_sizes"], (cursor, max_records)).fetchall(), max_records, 1)
        if not sizes:
            main.execute("ROLLBACK")
            return cursor, []
        rows = log.execute(Q["claim_entries"], (cursor, sizes[-1][0])).fetchall()
    except BaseException:
        main.execute("ROLLBACK")
        raise
    return cursor, [QueuedEntry(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]


class SqliteClaim:
    """A Claim on SQLite (see store/base.py). `run` executes on the processing thread."""

    def __init__(self, run: Runner, conns: Connections, cursor: int, entries: list[QueuedEntry]) -> None:
        self._run = run
        self._conns = conns
        self._cursor = cursor  # the log id acknowledged just before entries[0]
        self._entries = entries
        self._open = True  # start() left the first transaction open

    @property
    def entries(self) -> Sequence[QueuedEntry]:
        return self._entries

    def _main(self) -> sqlite3.Connection:
        """The store-file connection, inside this claim's transaction (opened here if needed)."""
        main = self._conns()[0]
        if not self._open:
            if main.in_transaction:  # a rollback that failed (disk trouble): start clean
                main.execute("ROLLBACK")
            main.execute("BEGIN IMMEDIATE")
            self._open = True
            if int(main.execute(Q["cursor_get"]).fetchone()[0]) != self._cursor:
                self._rollback()
                raise Contention("another processor applied these log entries")
        return main

    def _rollback(self) -> None:
        self._open = False
        main = self._conns()[0]
        if main.in_transaction:
            main.execute("ROLLBACK")

    def _commit(self, main: sqlite3.Connection, count: int) -> None:
        last = self._entries[count - 1].id
        main.execute(Q["cursor_put"], (last,))
        main.execute(Q["processed_mark"], (last, now_ms()))  # when, for the request traces (store/traces.py)
        self._open = False
        try:
            main.execute("COMMIT")
        except BaseException:
            if main.in_transaction:
                main.execute("ROLLBACK")
            raise
        self._cursor = last
        self._entries = self._entries[count:]

    async def load(self, needs: Needs) -> State:
        result: State = await self._run(lambda: load(self._main(), needs))
        return result

    async def write(self, effects: Effects) -> None:
        await self._run(lambda: write(self._main(), effects))

    async def ack(self, count: int) -> None:
        def run() -> None:
            main = self._main()
            retried = [(e.retry_of, e.account_id) for e in self._entries[:count] if e.retry_of is not None]
            main.executemany(Q["dead_letter_resolve"], retried)
            self._commit(main, count)

        await self._run(run)

    async def rollback(self) -> None:
        await self._run(self._rollback)

    async def dead_letter(self, error: str, message: str) -> None:
        entry = self._entries[0]

        def run() -> None:
            self._rollback()
            main = self._main()
            now = now_ms()
            updated = 0
            if entry.retry_of is not None:  # failed again: its dead letter gets the new error
                params = (entry.id, error, message, now, entry.retry_of, entry.account_id)
                updated = main.execute(Q["dead_letter_again"], params).rowcount
            if updated == 0:
                main.execute(
                    Q["dead_letter_insert"],
                    (entry.account_id, entry.id, entry.received_at, entry.records, entry.payload, error, message, now),
                )
            self._commit(main, 1)

        await self._run(run)

    async def release(self) -> None:
        """End the claim: roll back what was not acknowledged. Never raises: nothing uncommitted can be
        lost, and the next claim starts with a clean transaction anyway."""
        try:
            await self._run(self._rollback)
        except Exception:  # the store closing, a disk error
            log.debug("rollback at the end of a claim failed", exc_info=True)


def load(conn: sqlite3.Connection, needs: Needs) -> State:
    grouped: dict[tuple[int, str], list[str]] = defaultdict(list)
    for acc, kind, value in needs.identities:
        grouped[(acc, kind)].append(value)
    identities: dict[tuple[int, str, str], int] = {}
    for (acc, kind), values in grouped.items():
        for value, pid in conn.execute(Q["identities_in"], (acc, kind, common.json_encode(values))):
            identities[(acc, kind, value)] = pid
    pids = common.json_encode(sorted(set(identities.values())))
    rows = conn.execute(Q["profiles_in"], (pids,))
    profiles = {row[0]: StoredProfile(row[0], row[1], common.profile_data(row)) for row in rows}
    if profiles and conn.execute(Q["devices_any"]).fetchone()[0]:
        for pid, device_id, attributes in conn.execute(Q["devices_in"], (pids,)):
            profiles[pid].devices[device_id] = common.json_decode(attributes)
    schemas: dict[tuple[int, str], dict[str, str]] = {}
    scopes: dict[int, list[str]] = defaultdict(list)
    for acc, scope in needs.scopes:
        scopes[acc].append(scope)
    for acc, names in scopes.items():
        for scope, name, vtype in conn.execute(Q["schema_in"], (acc, common.json_encode(names))):
            schemas.setdefault((acc, scope), {})[name] = vtype
    restricted: set[tuple[int, str]] = set()
    accounts = [
        acc for acc in common.batch_accounts(needs) if conn.execute(Q["restrictions_any"], (acc,)).fetchone()[0]
    ]
    for acc, users in common.restriction_candidates(needs, profiles, accounts).items():
        for (user_id,) in conn.execute(Q["restrictions_in"], (acc, common.json_encode(users))):
            restricted.add((acc, user_id))
    return State(identities, profiles, schemas, restricted)


def write(conn: sqlite3.Connection, fx: Effects) -> None:
    """Apply one batch's Effects in the order Effects documents (the caller commits)."""
    now = now_ms()
    enc = common.json_encode
    real: dict[int, int] = {}
    gone = set(fx.deletes)
    if fx.new_profiles:
        first = int(conn.execute(Q["profile_next_id"]).fetchone()[0])
        rows: list[tuple[Any, ...]] = []
        for temp, acc in sorted(fx.new_profiles.items(), reverse=True):
            real[temp] = new_id = first + len(rows)
            stored = fx.profiles.get(temp)
            if stored is None or temp in gone:
                rows.append((new_id, acc, None, b"{}", b"{}", None, None, now, now))
            else:
                d = stored.data
                rows.append(
                    (new_id, acc, d.user_id, enc(d.system), enc(d.attributes), d.first_seen, d.last_seen, now, now)
                )
        conn.executemany(Q["profile_insert"], rows)

    def pid(p: int) -> int:
        return real.get(p, p)

    conn.executemany(
        Q["profile_update"],
        [
            (p.data.user_id, enc(p.data.system), enc(p.data.attributes), p.data.first_seen, p.data.last_seen, now, i)
            for i, p in fx.profiles.items()
            if i >= 0
        ],
    )
    conn.executemany(Q["profile_seen"], [(f, last, i) for i, (f, last) in fx.seen_only.items()])
    conn.executemany(Q["identity_forget"], list(fx.forget))
    conn.executemany(Q["identity_put"], [(a, k, v, pid(p)) for (a, k, v), p in fx.identities.items()])
    conn.executemany(Q["event_insert"], [common.event_params(e, pid, enc) for e in fx.events])
    # One statement per table, in the moves' order (a chain a -> b -> c still ends on c: each table's
    # statements run in order, and no statement reads another table).
    moves = [(pid(dst), pid(src)) for src, dst in fx.moves]
    for query in ("move_identities", "move_events", "move_devices"):
        conn.executemany(Q[query], moves)
    deletes = [(pid(p),) for p in fx.deletes]
    for query in ("delete_identities", "delete_devices", "delete_profile"):
        conn.executemany(Q[query], deletes)
    conn.executemany(Q["device_delete"], [(pid(p), d) for (p, d), a in fx.devices.items() if a is None])
    conn.executemany(Q["device_put"], [(pid(p), d, enc(a), now) for (p, d), a in fx.devices.items() if a is not None])
    conn.executemany(Q["merge_insert"], [common.merge_params(m, pid) for m in fx.merges])
    conn.executemany(Q["rejection_insert"], [common.rejection_params(r, enc) for r in fx.rejections])
    conn.executemany(Q["schema_insert"], fx.schema)
    conn.executemany(
        Q["stats_add"],
        [(a, s["users"], s["anonymous_users"], s["events"]) for a, s in fx.stats.items()],
    )
    derived.write(conn, fx, pid)  # the dashboard's search terms and counts
