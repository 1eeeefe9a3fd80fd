"""Look at a store's tables directly: what a test must check beyond what the APIs show."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from openengage.store.sqlite.store import ingest_path


def rows(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (`?` placeholders; `%s` on PostgreSQL is derived) and return its rows."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            with conn:
                return conn.execute(statement, params).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True) as pg:
        cur = pg.execute(statement.replace("?", "%s").encode(), params)
        return cur.fetchall() if cur.description else []


def _sqlite_cells(path: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables if not t.startswith("_yoyo")}
    finally:
        conn.close()


def _text(cell: Any) -> str:
    if isinstance(cell, bytes | bytearray | memoryview):
        return bytes(cell).decode("utf-8", "replace")
    return str(cell)


def tables_holding(url: str, needle: str) -> dict[str, int]:
    """{table: rows} of every table of the store (the ingest log's file too, on SQLite) with a cell whose
    text holds `needle`: where a value still lives, whatever column or JSON document it hides in."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        contents = _sqlite_cells(path) | {f"log.{t}": r for t, r in _sqlite_cells(ingest_path(path)).items()}
    else:
        with psycopg.connect(url, autocommit=True) as pg:
            names = [
                str(r[0])
                for r in pg.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                    "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '_yoyo%%' AND table_name NOT LIKE 'yoyo%%'"
                ).fetchall()
            ]
            contents = {t: pg.execute(f'SELECT * FROM "{t}"'.encode()).fetchall() for t in names}
    found: dict[str, int] = {}
    for table, table_rows in contents.items():
        n = sum(1 for row in table_rows if any(needle in _text(cell) for cell in row if cell is not None))
        if n:
            found[table] = n
    return found
