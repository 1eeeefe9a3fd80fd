"""Ingest-log partitions: which processor lane a record takes.

A record's partition is a stable hash of (account, its primary identity) modulo PARTITIONS. One
processor at a time holds a partition (advisory lock) and applies its entries in id order, so the
records of one user keep their acceptance order while other partitions proceed on other nodes.
"""

from __future__ import annotations

import zlib

import msgspec

from openengage.records import DeleteRecord, DeviceRecord, EventRecord, MergeRecord, Record, UserRecord

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


def _partition(account_id: int, identity: str) -> int:
    return zlib.crc32(f"{account_id}\x00{identity}".encode()) % PARTITIONS


def partition_of(account_id: int, record: Record) -> int:
    return _partition(account_id, primary_identity(record))


class _Key(msgspec.Struct):
    """Just the identity fields of an encoded record (msgspec skips the rest without building it)."""

    type: str  # the records' tag
    user_id: str | None = None
    anonymous_id: str | None = None
    retained_user: str | None = None


_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_key = msgspec.json.Decoder(_Key)


def _key_identity(key: _Key) -> str:
    """primary_identity() of the encoded record, without decoding it whole."""
    if key.type == "merge":
        return "u:" + (key.retained_user or "")
    if key.user_id:
        return "u:" + key.user_id
    return "a:" + (key.anonymous_id or "")


def split(account_id: int, payload: bytes, count: int) -> list[tuple[int, int, bytes]]:
    """(partition, records, payload) rows for one request: one row per partition its records touch,
    each keeping the request's record order. Records are cut out of the payload as raw JSON (never
    re-encoded); a request of one partition keeps its payload as is."""
    raws = _raw_list.decode(payload)
    parts = [_partition(account_id, _key_identity(_key.decode(raw))) for raw in raws]
    if not parts:
        return [(0, count, payload)]
    if all(p == parts[0] for p in parts):
        return [(parts[0], len(raws), payload)]
    grouped: dict[int, list[bytes]] = {}
    for p, raw in zip(parts, raws, strict=True):
        grouped.setdefault(p, []).append(bytes(raw))
    return [(p, len(rs), b"[" + b",".join(rs) + b"]") for p, rs in grouped.items()]
