"""Ingest-log partitions: which processor lane a record takes.

A record's partition is a stable hash of (account, its primary identity) modulo PARTITIONS. One
processor at a time holds a partition (advisory lock) and applies its entries in id order, so the
records of one user keep their acceptance order while other partitions proceed on other nodes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from openengage.records import (
    DeleteRecord,
    DeviceRecord,
    EventRecord,
    MergeRecord,
    Record,
    UserRecord,
    decode_records,
    encode_records,
)

# Changing this re-routes users between lanes: only change it with an empty ingest log.
PARTITIONS = 16


def primary_identity(record: Record) -> str:
    """userId if present, else anonymousId; MoEngage records by customer id (a merge: the retained user)."""
    if isinstance(record, UserRecord | EventRecord):
        if record.user_id:
            return "u:" + record.user_id
        return "a:" + (record.anonymous_id or "")
    if isinstance(record, DeviceRecord | DeleteRecord):
        return "u:" + record.user_id
    if isinstance(record, MergeRecord):
        return "u:" + record.retained_user
    return ""  # pragma: no cover - Record is a closed union


def partition_of(account_id: int, record: Record) -> int:
    key = f"{account_id}\x00{primary_identity(record)}".encode()
    return zlib.crc32(key) % PARTITIONS


def split(account_id: int, payload: bytes, count: int) -> list[tuple[int, int, bytes]]:
    """(partition, records, payload) rows for one request: one row per partition its records touch,
    each keeping the request's record order. A request of one partition keeps its payload as is."""
    records: Sequence[Record] = decode_records(payload)
    parts = [partition_of(account_id, r) for r in records]
    if not parts:
        return [(0, count, payload)]
    if all(p == parts[0] for p in parts):
        return [(parts[0], len(records), payload)]
    grouped: dict[int, list[Record]] = {}
    for p, record in zip(parts, records, strict=True):
        grouped.setdefault(p, []).append(record)
    return [(p, len(rs), encode_records(rs)) for p, rs in grouped.items()]
