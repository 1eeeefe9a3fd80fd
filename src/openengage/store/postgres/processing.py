"""Processing on PostgreSQL: claim a partition, plan, write the Effects and acknowledge, atomically.

A processor takes a partition's session advisory lock (`pg_try_advisory_lock`, so nodes never wait on
each other: a busy partition is skipped), then runs one REPEATABLE READ transaction: read the
partition's oldest entries in id order, load the State, plan, write, delete the entries, commit. The
lock is taken before the transaction starts, so its snapshot always includes the previous holder's
commit. A crash rolls the transaction back and the closed session frees the lock: another node
continues from the same entries, and nothing is applied twice.

Records of different partitions may touch the same profile (an identify links an anonymous id of
another partition; a merge names two users). Every transaction that changes a profile's identities,
events or devices also writes the profile's row, so under REPEATABLE READ two such transactions
conflict on that row and the later one fails with a serialization error (or a deadlock, or a unique
violation on an identity both created); it rolls back and is retried with a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from openengage.records import decode_records
from openengage.store import common
from openengage.store.base import Effects, LogEntry, Needs, Planner, State, StoredProfile
from openengage.store.postgres import derived
from openengage.store.postgres.connection import LOCK_PARTITION, RETRYABLE, Conn, backoff, transaction
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")
log = logging.getLogger("openengage.store.postgres")

MAX_ATTEMPTS = 20


def _text(raw: bytes) -> str:
    return raw.decode()


async def pending_partitions(conn: Conn, partitions: int) -> list[int]:
    cur = await conn.execute(Q["partitions_pending"], (partitions,))
    return [int(row[0]) for row in await cur.fetchall()]


async def process_partition(conn: Conn, planner: Planner, part: int, limit: int, now: int) -> int | None:
    """Apply up to `limit` records of partition `part`; None when another processor holds it."""
    cur = await conn.execute(Q["partition_try_lock"], (LOCK_PARTITION, part))
    row = await cur.fetchone()
    if row is None or not row[0]:
        return None
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await _apply(conn, planner, part, limit, now)
            except RETRYABLE as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                log.debug("partition %d: %s; retrying", part, type(exc).__name__, extra={"action": "retry"})
                await asyncio.sleep(backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        await _unlock(conn, part)


async def _unlock(conn: Conn, part: int) -> None:
    """Release the partition; a session that cannot say so is closed, which releases it too (a pooled
    connection must never go back to the pool still holding a partition)."""
    if conn.closed:
        return
    try:
        await conn.execute(Q["partition_unlock"], (LOCK_PARTITION, part))
    except BaseException:
        await conn.close()
        raise


async def _apply(conn: Conn, planner: Planner, part: int, limit: int, now: int) -> int:
    async with transaction(conn, "REPEATABLE READ"):
        # Sizes first, payloads only for the entries taken (one snapshot: both reads agree).
        cur = await conn.execute(Q["claim_sizes"], (part, limit))
        sizes = common.take_records(await cur.fetchall(), limit, 1)
        if not sizes:
            return 0
        cur = await conn.execute(Q["claim_entries"], (part, sizes[-1][0]))
        rows = await cur.fetchall()
        entries = [LogEntry(int(r[0]), int(r[1]), int(r[2]), decode_records(bytes(r[4]))) for r in rows]
        state = await _load(conn, planner.needs(entries))
        effects = planner.plan(entries, state)
        await _write(conn, effects, part, now)
        await conn.execute(Q["ack_entries"], ([e.id for e in entries],))
    return sum(int(r[3]) for r in rows)


async def _load(conn: Conn, needs: Needs) -> State:
    grouped: dict[tuple[int, str], list[str]] = defaultdict(list)
    for acc, kind, value in needs.identities:
        grouped[(acc, kind)].append(value)
    identities: dict[tuple[int, str, str], int] = {}
    for (acc, kind), values in grouped.items():
        cur = await conn.execute(Q["identities_in"], (values, acc, kind))
        for value, pid in await cur.fetchall():
            identities[(acc, kind, str(value))] = int(pid)
    pids = sorted(set(identities.values()))
    profiles: dict[int, StoredProfile] = {}
    if pids:
        cur = await conn.execute(Q["profiles_in"], (pids,))
        for prow in await cur.fetchall():
            profiles[int(prow[0])] = StoredProfile(int(prow[0]), int(prow[1]), common.profile_data(prow))
        cur = await conn.execute(Q["devices_in"], (pids,))
        for pid, device_id, attributes in await cur.fetchall():
            profiles[int(pid)].devices[str(device_id)] = common.json_decode(attributes)
    scopes: dict[int, list[str]] = defaultdict(list)
    for acc, scope in needs.scopes:
        scopes[acc].append(scope)
    schemas: dict[tuple[int, str], dict[str, str]] = {}
    for acc, names in scopes.items():
        cur = await conn.execute(Q["schema_in"], (acc, names))
        for scope, name, vtype in await cur.fetchall():
            schemas.setdefault((acc, str(scope)), {})[str(name)] = str(vtype)
    return State(identities, profiles, schemas)


async def _executemany(conn: Conn, query: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(query, rows)


async def _copy(conn: Conn, query: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        async with conn.cursor() as cur, cur.copy(query) as copy:
            for row in rows:
                await copy.write_row(row)


async def _insert_profiles(conn: Conn, fx: Effects, now: int) -> dict[int, int]:
    """Real ids for the planner's temporary (negative) profile ids."""
    if not fx.new_profiles:
        return {}
    temps = sorted(fx.new_profiles, reverse=True)
    cur = await conn.execute(Q["profile_ids"], (len(temps),))
    real = {temp: int(row[0]) for temp, row in zip(temps, await cur.fetchall(), strict=True)}
    enc = common.json_encode
    gone = set(fx.deletes)
    rows: list[tuple[Any, ...]] = []
    for temp in temps:
        acc, stored = fx.new_profiles[temp], fx.profiles.get(temp)
        if stored is None or temp in gone:
            rows.append((real[temp], acc, None, "{}", "{}", None, None, now, now))
        else:
            d = stored.data
            rows.append(
                (
                    real[temp],
                    acc,
                    d.user_id,
                    _text(enc(d.system)),
                    _text(enc(d.attributes)),
                    d.first_seen,
                    d.last_seen,
                    now,
                    now,
                )
            )
    await _copy(conn, Q["profile_insert_copy"], rows)
    return real


async def _write(conn: Conn, fx: Effects, part: int, now: int) -> None:
    enc = common.json_encode
    real = await _insert_profiles(conn, fx, now)

    def pid(p: int) -> int:
        return real.get(p, p)

    # Existing profiles in id order: concurrent transactions lock rows in one order, so fewer deadlocks.
    updates = sorted((i, p) for i, p in fx.profiles.items() if i >= 0)
    await _executemany(
        conn,
        Q["profile_update"],
        [
            (
                p.data.user_id,
                _text(enc(p.data.system)),
                _text(enc(p.data.attributes)),
                p.data.first_seen,
                p.data.last_seen,
                now,
                i,
            )
            for i, p in updates
        ],
    )
    await _executemany(conn, Q["profile_seen"], [(f, last, i) for i, (f, last) in sorted(fx.seen_only.items())])
    written = {i for i, _ in updates} | set(fx.seen_only) | set(fx.deletes)
    touched = {p for p in fx.identities.values()} | {e.profile_id for e in fx.events} | {p for p, _ in fx.devices}
    touched |= {dst for _, dst in fx.moves}
    untouched = sorted(p for p in touched - written if p >= 0)
    if untouched:
        await conn.execute(Q["profile_touch"], (now, untouched))
    await _executemany(conn, Q["identity_forget"], sorted(fx.forget))
    await _executemany(conn, Q["identity_put"], sorted((a, k, v, pid(p)) for (a, k, v), p in fx.identities.items()))
    await _copy(
        conn,
        Q["event_insert_copy"],
        [common.event_params(e, pid, lambda value: _text(enc(value))) for e in fx.events],
    )
    for src, dst in fx.moves:
        await conn.execute(Q["move_identities"], (pid(dst), pid(src)))
        await conn.execute(Q["move_events"], (pid(dst), pid(src)))
        await conn.execute(Q["move_devices"], (pid(dst), pid(src), pid(dst)))
    for p in fx.deletes:
        for query in ("delete_identities", "delete_devices", "delete_profile"):
            await conn.execute(Q[query], (pid(p),))
    for (p, device_id), attributes in fx.devices.items():
        if attributes is None:
            await conn.execute(Q["device_delete"], (pid(p), device_id))
        else:
            await conn.execute(Q["device_put"], (pid(p), device_id, _text(enc(attributes)), now))
    await _executemany(conn, Q["merge_insert"], [common.merge_params(m, pid) for m in fx.merges])
    await _copy(
        conn,
        Q["rejection_insert_copy"],
        [common.rejection_params(r, lambda value: _text(enc(value))) for r in fx.rejections],
    )
    if fx.schema:
        # Serializes schema additions per account across nodes (see schema_versions in the migration).
        for acc in sorted({s[0] for s in fx.schema}):
            await conn.execute(Q["schema_bump"], (acc,))
        await _executemany(conn, Q["schema_insert"], fx.schema)
    await _executemany(
        conn,
        Q["stats_add"],
        [(a, part, s["users"], s["anonymous_users"], s["events"]) for a, s in sorted(fx.stats.items())],
    )
    await derived.write(conn, fx, pid, part)  # the dashboard's search terms and counts
