"""The ingest log on PostgreSQL: admission and durable append, one transaction per group-commit batch.

Admission (request-id dedupe, one-minute rate windows) is decided by `common.Admission` on facts read
under locks, so every node of a cluster sees one truth:
- request ids: a transaction-scoped advisory lock per (account, request id) key, taken in sorted order
  before the ids are read, so two nodes accepting the same id serialize and the second sees the first;
- rate windows: the batch's window rows are created if missing, then locked FOR UPDATE in key order,
  read, and written back in the same transaction, so a limit of N admits exactly N across all nodes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from openengage.store import common
from openengage.store.base import Outcome, Submission
from openengage.store.postgres import partition
from openengage.store.postgres.connection import LOCK_REQUEST_ID, Conn, key32, transaction
from openengage.store.sql import load_queries
from openengage.store.traces import TRACE_RETENTION_MS

Q = load_queries("openengage.store.postgres")


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
# 5 fields: account_id bigint, partition smallint, received_at bigint, n integer, payload bytea (+ length)
_ROW = struct.Struct(">hiqihiqiii")


def _copy_buffer(accepted: Sequence[Submission], now: int) -> bytes:
    """The log rows as one binary COPY stream: built with struct, no per-row work in the driver."""
    chunks = [_COPY_HEADER]
    for sub in accepted:
        for part, n, payload in partition.split(sub.account_id, sub.payload, sub.records):
            chunks.append(_ROW.pack(5, 8, sub.account_id, 2, part, 8, now, 4, n, len(payload)))
            chunks.append(payload)
    chunks.append(_COPY_TRAILER)
    return b"".join(chunks)


_INT = struct.Struct(">i")
_NULL = _INT.pack(-1)
_MS = struct.Struct(">iq")


def _text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _INT.pack(len(raw)) + raw


def _copy_buffer_traced(accepted: Sequence[Submission], now: int) -> bytes:
    """The log rows with their request traces (store/traces.py): four columns more in the same COPY."""
    chunks = [_COPY_HEADER]
    for sub in accepted:
        t = sub.trace
        trace = (
            _NULL * 4
            if t is None
            else b"".join((_text(t.request_id), _text(t.endpoint), _MS.pack(8, t.received_at), _text(t.subjects)))
        )
        for part, n, payload in partition.split(sub.account_id, sub.payload, sub.records):
            chunks.append(_ROW.pack(9, 8, sub.account_id, 2, part, 8, now, 4, n, len(payload)))
            chunks.append(payload)
            chunks.append(trace)
    chunks.append(_COPY_TRAILER)
    return b"".join(chunks)


def _window_keys(batch: Sequence[Submission]) -> list[tuple[int, str]]:
    keys: set[tuple[int, str]] = set()
    for sub in batch:
        for bucket, cost, limit in ((sub.bucket, sub.cost, sub.limit), *sub.extra_costs):
            if cost > 0 and limit > 0:
                keys.add((sub.account_id, bucket))
    return sorted(keys)


async def _seen_request_ids(conn: Conn, batch: Sequence[Submission]) -> dict[tuple[int, str], int]:
    wanted = sorted({(s.account_id, s.request_id) for s in batch if s.request_id})
    if not wanted:
        return {}
    locks = sorted({key32(f"{a}\x00{r}") for a, r in wanted})
    await conn.execute(Q["lock_keys"], (LOCK_REQUEST_ID, locks))
    cur = await conn.execute(Q["request_ids_seen"], ([a for a, _ in wanted], [r for _, r in wanted]))
    return {(int(a), str(r)): int(at) for a, r, at in await cur.fetchall()}


async def _lock_windows(conn: Conn, keys: list[tuple[int, str]], window: int) -> dict[tuple[int, str], int]:
    """Used counts of the current window, with the rows locked until commit."""
    if not keys:
        return {}
    accounts, buckets = [a for a, _ in keys], [b for _, b in keys]
    await conn.execute(Q["windows_ensure"], (window, accounts, buckets))
    cur = await conn.execute(Q["windows_lock"], (accounts, buckets))
    used: dict[tuple[int, str], int] = {}
    for acc, bucket, window_no, count in await cur.fetchall():
        used[(int(acc), str(bucket))] = int(count) if window_no == window else 0
    return used


async def append(conn: Conn, batch: Sequence[Submission], now: int) -> list[Outcome]:
    window = common.window_of(now)
    async with transaction(conn):
        seen_at = await _seen_request_ids(conn, batch)
        used = await _lock_windows(conn, _window_keys(batch), window)

        def seen(sub: Submission) -> bool:
            at = seen_at.get((sub.account_id, sub.request_id or ""))
            return at is not None and at > now - common.REQUEST_ID_TTL_MS

        admission = common.Admission(now, seen, lambda a, b: used.get((a, b), 0))
        outcomes = admission.decide(batch)
        if any(sub.trace is not None for sub in admission.accepted):
            async with conn.cursor() as cur, cur.copy(Q["append_entries_copy_traced"]) as copy:
                await copy.write(_copy_buffer_traced(admission.accepted, now))
        elif admission.accepted:
            async with conn.cursor() as cur, cur.copy(Q["append_entries_copy"]) as copy:
                await copy.write(_copy_buffer(admission.accepted, now))
        if admission.request_ids:
            async with conn.cursor() as cur:
                await cur.executemany(Q["request_id_put"], [(a, r, now) for a, r in sorted(admission.request_ids)])
        changed = [(window, n, a, b) for (a, b), n in sorted(admission.counters.items()) if (a, b) in used]
        if changed:
            async with conn.cursor() as cur:
                await cur.executemany(Q["window_put"], changed)
    return outcomes


async def maintain(conn: Conn, now_ms: int) -> None:
    """Forget request ids older than 4 hours.

    Rate windows are one row per (account, bucket), reused minute after minute, so they are never
    deleted: deleting one under a concurrent append would let that append's count go unrecorded.
    """
    await conn.execute(Q["prune_request_ids"], (now_ms - common.REQUEST_ID_TTL_MS,))
    await conn.execute(Q["requests_prune"], (now_ms - TRACE_RETENTION_MS,))
    await conn.execute(Q["processed_marks_prune"], (now_ms - TRACE_RETENTION_MS,))
