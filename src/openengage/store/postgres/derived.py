"""The dashboard's derived rows on PostgreSQL (see store/derived.py): search terms, data counts and
rejection counts, written in the processing transaction with a few pipelined statements.

Counts are kept per ingest-log partition, like account_stats: the transactions of one partition are
serialized by its advisory lock, so two nodes never update the same counter row (which under
REPEATABLE READ would make one of them retry its whole batch). Reads add the partitions up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from openengage.store import common, derived
from openengage.store.base import Effects
from openengage.store.postgres.connection import Conn
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")


async def _many(conn: Conn, query: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(query, rows)


def _json(value: Any) -> str:
    return common.json_encode(value).decode()


async def write(conn: Conn, fx: Effects, pid: Callable[[int], int], part: int) -> None:
    """Keep search_terms, data_counts and rejection_counts in step with the batch's effects."""
    if fx.profiles or fx.removed:
        deletes, puts = derived.term_changes(fx, pid)
        await _many(conn, Q["search_term_delete"], deletes)
        await _many(conn, Q["search_term_put"], puts)
    if fx.events or fx.user_attribute_uses:
        await _many(conn, Q["data_count_add"], [(part, *row) for row in derived.data_counts(fx)])
    if fx.rejections:
        await _many(conn, Q["rejection_count_add"], [(part, *row) for row in derived.rejection_counts(fx, _json)])
