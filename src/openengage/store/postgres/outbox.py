"""The outbox on PostgreSQL: a transaction, its messages and its log entry commit together, and so do a
message's outcome and its system events.

- Dedupe: a transaction-scoped advisory lock per (account, txn id), taken in sorted order before the
  latest transaction with that id is read, so two nodes accepting the same id serialize.
- Rate: the `transactions` window row is locked FOR UPDATE with the ingest windows' code (ingest.py).
- Claims: `FOR UPDATE SKIP LOCKED` on due messages whose log entry is gone (acknowledged entries are
  deleted in the transaction that applies them), leased to one sender until the lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence

from openengage.store import common
from openengage.store.base import Finish, Outgoing, TxnOutcome, TxnSubmission
from openengage.store.outbox import BUCKET, TxnAdmission, message_rows, outgoing_of, txn_row
from openengage.store.postgres import partition
from openengage.store.postgres.connection import LOCK_REQUEST_ID, Conn, key32, transaction
from openengage.store.postgres.ingest import _lock_windows
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")


async def _entry(conn: Conn, query: str, account_id: int, now: int, records: int, payload: bytes) -> int:
    """Append records of one user to the ingest log (its partition); the entry's id (0 for event_entry)."""
    last = 0
    for part, n, chunk in partition.split(account_id, payload, records):
        cur = await conn.execute(Q[query], (account_id, part, now, n, chunk))
        if cur.description is not None:
            row = await cur.fetchone()
            assert row is not None
            last = max(last, int(row[0]))
    return last


async def enqueue(conn: Conn, batch: Sequence[TxnSubmission], now: int) -> list[TxnOutcome]:
    window = common.window_of(now)
    async with transaction(conn):
        keys = sorted({(t.account_id, t.txn_id) for t in batch})
        locks = sorted({key32(f"{a}\x00txn\x00{t}") for a, t in keys})
        await conn.execute(Q["lock_keys"], (LOCK_REQUEST_ID, locks))
        cur = await conn.execute(Q["txn_latest"], ([a for a, _ in keys], [t for _, t in keys]))
        prior = {(int(a), str(t)): (int(d), bytes(r)) for a, t, d, r in await cur.fetchall()}
        windows = sorted({(t.account_id, BUCKET) for t in batch if t.limit > 0})
        used = await _lock_windows(conn, windows, window)
        admission = TxnAdmission(now, lambda a, t: prior.get((a, t)), lambda a, b: used.get((a, b), 0))
        outcomes = admission.decide(batch)
        for t in admission.accepted:
            log_id = await _entry(conn, "txn_entry", t.account_id, now, t.records, t.payload)
            cur = await conn.execute(Q["txn_insert"], txn_row(t, now, log_id))
            row = await cur.fetchone()
            assert row is not None
            async with conn.cursor() as c:
                await c.executemany(Q["message_insert"], message_rows(t, int(row[0]), now, log_id))
        changed = [(window, n, a, b) for (a, b), n in sorted(admission.counters.items()) if (a, b) in used]
        if changed:
            async with conn.cursor() as c:
                await c.executemany(Q["window_put"], changed)
    return outcomes


async def claim(conn: Conn, owner: str, limit: int, lease_ms: int, now: int) -> list[Outgoing]:
    async with transaction(conn):
        cur = await conn.execute(Q["messages_claim"], (now, now, limit, owner, now + lease_ms))
        rows = await cur.fetchall()
    return [outgoing_of(r, owner) for r in rows]


async def _finish(conn: Conn, m: Outgoing, f: Finish, now: int) -> bool:
    cur = await conn.execute(Q["message_finish"], (f.status, f.next_at, now, m.id, m.owner))
    row = await cur.fetchone()
    if row is None:  # the lease ran out and another sender took the message over
        return False
    await conn.execute(Q["attempt_insert"], (m.id, int(row[0]), now, f.outcome, f.error))
    if f.promote:
        await conn.execute(Q["message_promote"], (now, now, m.transaction_id))
    if f.close is not None:
        await conn.execute(Q["messages_close"], (f.close, f.close_detail, now, m.transaction_id))
    if f.records:
        await _entry(conn, "event_entry", m.account_id, now, f.records, f.payload)
    return True


async def finish(conn: Conn, outcomes: Sequence[tuple[Outgoing, Finish]], now: int) -> list[bool]:
    # Rows in id order: two senders finishing overlapping transactions (fallback promotions) lock alike.
    done: dict[int, bool] = {}
    async with transaction(conn):
        for m, f in sorted(outcomes, key=lambda o: o[0].id):
            done[m.id] = await _finish(conn, m, f, now)
    return [done[m.id] for m, _ in outcomes]


async def prune(conn: Conn, cutoff: int, limit: int) -> int:
    """Delete up to `limit` transactions whose ttl and dedupe window ended before `cutoff` (retention)."""
    async with transaction(conn):
        cur = await conn.execute(Q["outbox_prune"], (cutoff, cutoff, limit))
        return int(cur.rowcount)
