"""Retrying dead letters on SQLite: re-queue them through the ingest log (listing, counting and dropping
are written once, in store/dead_letters.py).

A retry appends a copy of the entry to the ingest log naming its dead letter (`entries.retry_of`);
the processor deletes the dead letter in the transaction that applies the copy. The two files never
need one transaction: a crash after the append leaves the dead letter listed (`requeued`) until its
copy is applied, and a second retry meanwhile queues nothing (see `requeue`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from openengage.store import common
from openengage.store.dead_letters import missing
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.sqlite")


def picked(conn: sqlite3.Connection, account_id: int, ids: Sequence[int] | None) -> list[tuple[Any, ...]]:
    """(id, received_at, records, payload) of the dead letters `ids` (None: all); NotFound for a missing id."""
    wanted = None if ids is None else common.json_encode(sorted(set(ids)))
    rows: list[tuple[Any, ...]] = conn.execute(Q["dead_letters_pick"], (account_id, wanted)).fetchall()
    absent = None if ids is None else missing(ids, [int(r[0]) for r in rows])
    if absent is not None:
        raise absent
    return rows


def requeue(log: sqlite3.Connection, main: sqlite3.Connection, account_id: int, ids: Sequence[int] | None) -> list[int]:
    """Append a copy of each dead letter to the ingest log (`log`, the writer); returns the ids queued.

    The dead letters and the processor's cursor are read from the store file (`main`, a reader) in one
    snapshot, after the log's write lock is taken, so no copy can be appended or pruned meanwhile. A
    dead letter still listed with no copy past the cursor then has none waiting (applying a copy
    deletes its dead letter in the same transaction as it moves the cursor): queueing one now can
    never make the entry apply twice.
    """
    log.execute("BEGIN IMMEDIATE")
    try:
        main.execute("BEGIN")  # one snapshot of the store file for the cursor and the dead letters
        try:
            cursor = int(main.execute(Q["cursor_get"]).fetchone()[0])
            rows = picked(main, account_id, ids)
        finally:
            main.execute("COMMIT")
        found = common.json_encode([r[0] for r in rows])
        waiting = {r[0] for r in log.execute(Q["dead_letters_queued"], (found, cursor))}
        todo = [r for r in rows if r[0] not in waiting]
        log.executemany(Q["dead_letter_requeue"], [(account_id, r[1], r[2], r[3], r[0]) for r in todo])
        log.execute("COMMIT")
    except BaseException:
        if log.in_transaction:
            log.execute("ROLLBACK")
        raise
    return [int(r[0]) for r in todo]
