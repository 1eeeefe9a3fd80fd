"""Retrying dead letters on PostgreSQL: re-queue them through the ingest log (listing, counting and
dropping are written once, in store/dead_letters.py).

A retry appends a copy of the entry to the ingest log, in its user's partition, naming its dead letter
(`entries.retry_of`), in one transaction with the check that no copy waits already; the processor
deletes the dead letter in the transaction that applies the copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from openengage.store.dead_letters import missing
from openengage.store.postgres import partition
from openengage.store.postgres.connection import Conn, transaction
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")


async def _picked(conn: Conn, account_id: int, ids: Sequence[int] | None) -> list[tuple[Any, ...]]:
    """(id, received_at, records, payload), locked; NotFound for an id the account does not have."""
    wanted = None if ids is None else sorted(set(ids))
    cur = await conn.execute(Q["dead_letters_pick"], {"account": account_id, "ids": wanted})
    rows = await cur.fetchall()
    absent = None if wanted is None else missing(wanted, [int(r[0]) for r in rows])
    if absent is not None:
        raise absent
    return rows


def _log_rows(account_id: int, records: int, payload: bytes) -> list[tuple[int, int, bytes]]:
    """(partition, records, payload): the entry goes back to its user's partition, keeping the order
    of that user's later records behind it. A payload that cannot even be read goes to partition 0."""
    try:
        return partition.split(account_id, payload, records)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return [(0, records, payload)]


async def requeue(conn: Conn, account_id: int, ids: Sequence[int] | None) -> list[int]:
    """Append a copy of each dead letter to the ingest log; returns the ids queued (not those whose
    copy is still waiting: the dead letters are locked, so two retries at once queue one copy)."""
    async with transaction(conn):
        rows = await _picked(conn, account_id, ids)
        cur = await conn.execute(Q["dead_letters_queued"], ([int(r[0]) for r in rows],))
        waiting = {int(r[0]) for r in await cur.fetchall()}
        todo = [r for r in rows if int(r[0]) not in waiting]
        params = [
            (account_id, part, int(r[1]), n, payload, int(r[0]))
            for r in todo
            for part, n, payload in _log_rows(account_id, int(r[2]), bytes(r[3]))
        ]
        if params:
            async with conn.cursor() as c:
                await c.executemany(Q["dead_letter_requeue"], params)
    return [int(r[0]) for r in todo]
