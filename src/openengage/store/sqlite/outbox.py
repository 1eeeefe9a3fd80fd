"""The outbox on SQLite, in the ingest log's file: on the log writer's thread and connection, so a
transaction, its messages and its log entry commit together (one file, one commit, one fsync), and so do
a message's outcome and its system events. The sender claims only messages whose log entry the processor
has applied (`log_id <= processor_cursor`, read from the store file before the claim)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from openengage.store import common
from openengage.store.base import Finish, Outgoing, TxnOutcome, TxnSubmission
from openengage.store.outbox import TxnAdmission, message_rows, outgoing_of, txn_row
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.sqlite")
T = TypeVar("T")


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the original error is the one worth raising
                conn.execute("ROLLBACK")
        raise
    return result


def enqueue(conn: sqlite3.Connection, batch: Sequence[TxnSubmission], now: int) -> list[TxnOutcome]:
    window = common.window_of(now)

    def prior(account_id: int, txn_id: str) -> tuple[int, bytes] | None:
        row = conn.execute(Q["txn_latest"], (account_id, txn_id)).fetchone()
        return (int(row[0]), bytes(row[1])) if row is not None else None

    def used(account_id: int, bucket: str) -> int:
        row = conn.execute(Q["window_get"], (account_id, bucket)).fetchone()
        return int(row[1]) if row is not None and row[0] == window else 0

    def run() -> list[TxnOutcome]:
        admission = TxnAdmission(now, prior, used)
        outcomes = admission.decide(batch)
        for t in admission.accepted:
            log_id = int(conn.execute(Q["txn_entry"], (t.account_id, now, t.records, t.payload)).fetchone()[0])
            tid = conn.execute(Q["txn_insert"], txn_row(t, now, log_id)).fetchone()[0]
            conn.executemany(Q["message_insert"], message_rows(t, int(tid), now, log_id))
        if admission.counters:
            conn.executemany(Q["window_put"], [(a, b, window, n) for (a, b), n in admission.counters.items()])
        return outcomes

    return _in_transaction(conn, run)


def due(conn: sqlite3.Connection, now: int, cursor: int, limit: int) -> list[int]:
    """Ids of messages to claim (a read; the claim itself checks again under the write lock)."""
    return [int(r[0]) for r in conn.execute(Q["messages_due"], (now, now, cursor, limit)).fetchall()]


def claim(conn: sqlite3.Connection, owner: str, limit: int, lease_ms: int, now: int, cursor: int) -> list[Outgoing]:
    def run() -> list[Outgoing]:
        claimed = []
        for message_id in due(conn, now, cursor, limit):
            if conn.execute(Q["message_lease"], (owner, now + lease_ms, message_id, now)).fetchone() is None:
                continue
            claimed.append(outgoing_of(conn.execute(Q["message_claimed"], (message_id,)).fetchone(), owner))
        return claimed

    return _in_transaction(conn, run)


def _finish(conn: sqlite3.Connection, m: Outgoing, f: Finish, now: int) -> bool:
    row = conn.execute(Q["message_finish"], (f.status, f.next_at, now, m.id, m.owner)).fetchone()
    if row is None:  # the lease ran out and another sender took the message over
        return False
    conn.execute(Q["attempt_insert"], (m.id, int(row[0]), now, f.outcome, f.error))
    if f.promote:
        conn.execute(Q["message_promote"], (now, now, m.transaction_id))
    if f.close is not None:
        conn.execute(Q["messages_close"], (f.close, f.close_detail, now, m.transaction_id))
    if f.records:
        conn.execute(Q["event_entry"], (m.account_id, now, f.records, f.payload))
    return True


def finish(conn: sqlite3.Connection, outcomes: Sequence[tuple[Outgoing, Finish]], now: int) -> list[bool]:
    return _in_transaction(conn, lambda: [_finish(conn, m, f, now) for m, f in outcomes])


def erase_users(conn: sqlite3.Connection, account_id: int, users: Sequence[str], now: int) -> int | None:
    """A GDPR erasure's part in the log file: delete the users' transactions, messages and attempts; None
    (nothing deleted) while a sender holds one of their messages. On the log writer's connection, so no
    claim runs in between: once this commits, no sender can hold or take any of them."""
    names = common.json_encode(list(users)).decode()

    def run() -> int | None:
        if int(conn.execute(Q["outbox_user_leased"], (account_id, names, now)).fetchone()[0]):
            return None
        conn.execute(Q["outbox_erase_attempts"], (account_id, names))
        conn.execute(Q["outbox_erase_messages"], (account_id, names))
        return int(conn.execute(Q["outbox_erase_transactions"], (account_id, names)).rowcount)

    return _in_transaction(conn, run)


def prune(conn: sqlite3.Connection, cutoff: int, limit: int) -> int:
    """Delete up to `limit` transactions whose ttl and dedupe window ended before `cutoff` (retention)."""

    def run() -> int:
        ids = [int(r[0]) for r in conn.execute(Q["outbox_expired"], (cutoff, cutoff, limit)).fetchall()]
        if not ids:
            return 0
        listed = common.json_encode(ids).decode()
        conn.execute(Q["outbox_prune_attempts"], (listed,))
        conn.execute(Q["outbox_prune_messages"], (listed,))
        conn.execute(Q["outbox_prune_transactions"], (listed,))
        return len(ids)

    return _in_transaction(conn, run)
