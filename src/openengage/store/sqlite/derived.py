"""The dashboard's derived rows on SQLite (see store/derived.py): search terms, data counts and rejection
counts, written in the processing transaction with a few multi-row statements."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from openengage.store import common, derived
from openengage.store.base import Effects
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.sqlite")


def write(conn: sqlite3.Connection, fx: Effects, pid: Callable[[int], int]) -> None:
    """Keep search_terms, data_counts and rejection_counts in step with the batch's effects."""
    if fx.profiles or fx.removed:
        deletes, puts = derived.term_changes(fx, pid)
        conn.executemany(Q["search_term_delete"], deletes)
        conn.executemany(Q["search_term_put"], puts)
    if fx.events or fx.user_attribute_uses:
        conn.executemany(Q["data_count_add"], derived.data_counts(fx))
    if fx.rejections:
        conn.executemany(Q["rejection_count_add"], derived.rejection_counts(fx, common.json_encode))
