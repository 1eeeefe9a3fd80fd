"""Reads on PostgreSQL, each scoped to its account; shapes come from store.common (shared with SQLite)."""

from __future__ import annotations

from typing import Any

from openengage.store import common
from openengage.store.base import Page, Profile, Stats
from openengage.store.postgres.admin import many, one
from openengage.store.postgres.connection import Conn
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")


async def profile(conn: Conn, account_id: int, kind: str, value: str) -> Profile | None:
    ident = await one(conn, Q["identity_get"], (account_id, kind, value))
    if ident is None:
        return None
    row = await one(conn, Q["profile_get"], (ident[0], account_id))
    if row is None:
        return None
    anon = [r[0] for r in await many(conn, Q["profile_anonymous_ids"], (row[0],))]
    devices = [common.json_decode(r[0]) for r in await many(conn, Q["profile_devices"], (row[0],))]
    return Profile(int(row[0]), int(row[1]), common.profile_data(row), anon, devices)


async def events(conn: Conn, account_id: int, profile_id: int, limit: int, cursor: str | None) -> Page:
    after = common.decode_cursor(cursor, 2) or (common.MAX_INT, common.MAX_INT)
    rows = await many(conn, Q["events_page"], (profile_id, account_id, after[0], after[1], limit + 1))
    nxt = common.encode_cursor(rows[limit - 1][4], rows[limit - 1][0]) if len(rows) > limit else None
    return Page([common.event_item(r) for r in rows[:limit]], nxt)


async def stats(conn: Conn, account_id: int) -> Stats:
    row = await one(conn, Q["stats_get"], {"a": account_id})
    assert row is not None
    return Stats(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


async def schema(conn: Conn, account_id: int) -> dict[str, Any]:
    return common.schema_doc(await many(conn, Q["schema_all"], (account_id,)))


async def rejections(conn: Conn, account_id: int, limit: int, cursor: str | None, user_id: str | None) -> Page:
    before = (common.decode_cursor(cursor, 1) or (common.MAX_INT,))[0]
    rows = await many(conn, Q["rejections_page"], (account_id, before, user_id, user_id, limit + 1))
    nxt = common.encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return Page([common.rejection_item(r) for r in rows[:limit]], nxt)


async def merges(conn: Conn, account_id: int, limit: int, cursor: str | None) -> Page:
    before = (common.decode_cursor(cursor, 1) or (common.MAX_INT,))[0]
    rows = await many(conn, Q["merges_page"], (account_id, before, limit + 1))
    nxt = common.encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return Page([common.merge_item(r) for r in rows[:limit]], nxt)
