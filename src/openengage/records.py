"""The one internal record type every dialect translates into.

Vendor shapes end at the API edge: a WebEngage or MoEngage request becomes a list of these records,
which the ingest log stores (msgspec JSON) and the processor applies. Times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


class Drop(msgspec.Struct, frozen=True, omit_defaults=True):
    """A datum the edge accepted but will not store; the processor records it as a rejection."""

    field: str
    reason: str
    value: Any = None


class UnsetRule(msgspec.Struct, frozen=True, omit_defaults=True):
    """Remove custom attributes whose name matches (MoEngage `unset_attributes`)."""

    match: str  # equals | prefix | suffix | contains
    attr: str
    case_sensitive: bool = True


class UserRecord(msgspec.Struct, tag="user", frozen=True, omit_defaults=True):
    """Create or update a profile. With both ids and `identify`, the anonymous profile merges in."""

    user_id: str | None = None
    anonymous_id: str | None = None
    system: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    identify: bool = True
    update_existing_only: bool = False
    add_to_array: dict[str, list[Any]] = {}
    remove_from_array: dict[str, list[Any]] = {}
    unset: list[UnsetRule] = []
    dropped: list[Drop] = []


class EventRecord(msgspec.Struct, tag="event", frozen=True, omit_defaults=True):
    """Append one event to the profile of `user_id` (or, without it, of `anonymous_id`)."""

    name: str
    user_id: str | None = None
    anonymous_id: str | None = None
    time_ms: int | None = None  # None: the time the request was accepted
    time_text: str | None = None  # the time exactly as the client sent it
    data: dict[str, Any] = {}
    context: dict[str, Any] = {}  # platform, app version, device id ... (MoEngage)
    dropped: list[Drop] = []
    # Written by OpenEngage itself (the sender's email_sent, ...): a system event name is then allowed.
    # No API edge ever sets it; records from clients are built field by field, never decoded into this.
    system: bool = False


class RawEventRecord(msgspec.Struct, tag="event", frozen=True, omit_defaults=True):
    """An EventRecord whose `data` is still the client's JSON, passed through undecoded.

    The ingest hot path writes these: it need not decode event attributes only to encode them again.
    It encodes exactly like an EventRecord (same tag, same fields, same order), so the log decodes it
    as one; tests/unit/test_records.py keeps the two in step.
    """

    name: str
    user_id: str | None = None
    anonymous_id: str | None = None
    time_ms: int | None = None
    time_text: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"{}")


class DeviceRecord(msgspec.Struct, tag="device", frozen=True, omit_defaults=True):
    """Create or update a device of an existing known user (MoEngage)."""

    user_id: str
    device_id: str | None = None
    attributes: dict[str, Any] = {}
    dropped: list[Drop] = []


class MergeRecord(msgspec.Struct, tag="merge", frozen=True, omit_defaults=True):
    """Merge one known user into another (MoEngage merge)."""

    merged_user: str
    retained_user: str


class DeleteRecord(msgspec.Struct, tag="delete", frozen=True, omit_defaults=True):
    """Delete a known user's profile and identities (MoEngage delete)."""

    user_id: str


Record = UserRecord | EventRecord | DeviceRecord | MergeRecord | DeleteRecord

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[Record])


def encode_records(records: Sequence[Record | RawEventRecord]) -> bytes:
    return _encoder.encode(records)


def decode_records(payload: bytes) -> list[Record]:
    return _decoder.decode(payload)


MAX_SUBJECTS = 25  # a bulk request names at most 25 people; a MoEngage bulk import's first 25 are kept
_subjects_encoder = msgspec.json.Encoder()


def _pairs(r: Record | RawEventRecord) -> tuple[tuple[str, str], ...]:
    if isinstance(r, MergeRecord):
        return (("u", r.retained_user), ("u", r.merged_user))
    if isinstance(r, DeviceRecord | DeleteRecord):
        return (("u", r.user_id),)
    if r.user_id:
        return (("u", r.user_id),)
    return (("a", r.anonymous_id),) if r.anonymous_id else ()


_PERSON_RECORDS = (RawEventRecord, EventRecord, UserRecord)  # a tuple: isinstance of a union is slower


def subjects_of(records: Sequence[Record | RawEventRecord]) -> bytes:
    """The people a request names, as the JSON list of distinct [kind, id] pairs ("u": user id, "a":
    anonymous id; the user id when both are sent, as the processor decides), at most MAX_SUBJECTS.
    Kept with the request trace (store/traces.py) so the trace can say which profile a request landed on."""
    if len(records) == 1:  # the ingest hot path: one record
        return _subjects_encoder.encode(_pairs(records[0]))
    seen: dict[tuple[str, str], None] = {}
    for r in records:
        if isinstance(r, _PERSON_RECORDS):  # what bulk bodies hold: inlined
            if r.user_id:
                seen["u", r.user_id] = None
            elif r.anonymous_id:
                seen["a", r.anonymous_id] = None
        else:
            for pair in _pairs(r):
                seen[pair] = None
        if len(seen) >= MAX_SUBJECTS:
            break
    return _subjects_encoder.encode(tuple(seen)[:MAX_SUBJECTS])
