"""Read-API documents from the store's typed rows: WebEngage's names and date format.

The store hands out typed rows (store/base.py); what a client sees of them is decided here, once, for the
read API (the dashboard shapes the same rows for its pages). Key order is part of the output: the
documents are encoded as built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from openengage.rules.dates import format_ms
from openengage.store.base import (
    AuditEntry,
    DeadLetter,
    Event,
    Merge,
    Profile,
    Rejection,
    RequestTrace,
    SchemaAttribute,
    Stats,
    Transaction,
)


def _time(ms: int | None) -> str | None:
    return format_ms(ms) if ms is not None else None


def profile_doc(profile: Profile) -> dict[str, Any]:
    """A profile: WebEngage system attribute names (opt-ins always, with their defaults), custom `attributes`."""
    data = profile.data
    doc: dict[str, Any] = {"userId": data.user_id, "anonymousIds": profile.anonymous_ids}
    doc.update({"emailOptIn": True, "smsOptIn": True, "whatsappOptIn": False})
    doc.update(data.system)
    doc["attributes"] = data.attributes
    doc["firstSeen"] = _time(data.first_seen)
    doc["lastSeen"] = _time(data.last_seen)
    if profile.devices:
        doc["devices"] = profile.devices
    return doc


def event_doc(event: Event) -> dict[str, Any]:
    """An event: its time exactly as sent when sent as text, else formatted; MoEngage's `context` if any."""
    doc: dict[str, Any] = {
        "eventName": event.name,
        "eventTime": event.time_text if event.time_text is not None else format_ms(event.time_ms),
        "eventData": event.data,
        "userId": event.user_id,
        "anonymousId": event.anonymous_id,
        "receivedAt": format_ms(event.received_at),
    }
    if event.context:
        doc["context"] = event.context
    return doc


def rejection_doc(r: Rejection) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "userId": r.user_id,
        "anonymousId": r.anonymous_id,
        "eventName": r.event_name,
        "field": r.field,
        "reason": r.reason,
        "detail": r.detail,
        "value": r.value,
        "action": "dropped" if r.dropped else "truncated",
        "at": format_ms(r.at),
    }


def merge_doc(m: Merge) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "userId": m.user_id,
        "anonymousId": m.anonymous_id,
        "mergedUser": m.merged_user,
        "fromProfile": m.from_profile,
        "intoProfile": m.into_profile,
        "at": format_ms(m.at),
    }


def schema_doc(attributes: list[SchemaAttribute]) -> dict[str, Any]:
    """{"users": {name: {"type", "firstSeen"}}, "events": {eventName: {name: {...}}}}."""
    users: dict[str, Any] = {}
    events: dict[str, dict[str, Any]] = {}
    for a in attributes:
        entry = {"type": a.type, "firstSeen": format_ms(a.first_seen)}
        if a.scope == "user":
            users[a.name] = entry
        else:
            events.setdefault(a.scope.removeprefix("event:"), {})[a.name] = entry
    return {"users": users, "events": events}


def stats_doc(s: Stats) -> dict[str, Any]:
    return {"users": s.users, "anonymousUsers": s.anonymous_users, "events": s.events, "pending": s.pending}


def audit_doc(a: AuditEntry) -> dict[str, Any]:
    """An audit log entry (the CLI's `audit list --json`, the dashboard's audit page)."""
    return {
        "id": a.id,
        "at": format_ms(a.at),
        "actor": a.actor,
        "address": a.address,
        "action": a.action,
        "target": a.target,
        "detail": a.detail,
    }


def dead_letter_doc(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter (the read API's `/dead-letters`, the CLI's `dead-letters list --json`); `payload` is
    the entry's records in OpenEngage's own record format, or their raw text when not even JSON."""
    try:
        payload: Any = msgspec.json.decode(letter.payload)
    except (msgspec.DecodeError, RecursionError):
        payload = letter.payload.decode("utf-8", "replace")
    return {
        "id": letter.id,
        "logId": letter.log_id,
        "error": letter.error,
        "message": letter.message,
        "records": letter.records,
        "attempts": letter.attempts,
        "requeued": letter.requeued,
        "receivedAt": format_ms(letter.received_at),
        "failedAt": format_ms(letter.failed_at),
        "payload": payload,
    }


def transaction_status(t: Transaction) -> str:
    """One word for a transaction: sent (a message went out), queued (one may still), else failed/expired."""
    statuses = {m.status for m in t.messages}
    if "sent" in statuses:
        return "sent"
    if statuses & {"queued", "standby"}:
        return "queued"
    return "expired" if "expired" in statuses else "failed"


def transaction_doc(t: Transaction) -> dict[str, Any]:
    """A transaction (`GET /v2/accounts/{lc}/transactions/{txnId}`): status, and each campaign's message with
    its attempts (time, outcome, error)."""
    return {
        "txnId": t.txn_id,
        "userId": t.user_id,
        "mode": t.mode,
        "status": transaction_status(t),
        "receivedAt": format_ms(t.received_at),
        "expiresAt": format_ms(t.expires_at),
        "messages": [
            {
                "experimentId": m.experiment_id,
                "channel": m.channel,
                "status": m.status,
                **({"reason": m.detail} if m.detail else {}),
                "attempts": [{"at": format_ms(a.at), "outcome": a.outcome, "error": a.error} for a in m.attempts],
            }
            for m in t.messages
        ],
    }


# ---------------------------------------------------------------- the documents above, for GET /openapi.json


class PlatformDoc(msgspec.Struct):
    platform: str
    active: bool


class ProfileDoc(msgspec.Struct, kw_only=True):
    """A profile. The system attributes it holds appear under their WebEngage names (those listed here)."""

    userId: str | None
    anonymousIds: list[str]
    emailOptIn: bool
    smsOptIn: bool
    whatsappOptIn: bool
    rcsOptIn: bool | UnsetType = UNSET
    name: str | UnsetType = UNSET
    firstName: str | UnsetType = UNSET
    lastName: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    phone: str | UnsetType = UNSET
    company: str | UnsetType = UNSET
    hashedEmail: str | UnsetType = UNSET
    hashedPhone: str | UnsetType = UNSET
    country: str | UnsetType = UNSET
    city: str | UnsetType = UNSET
    region: str | UnsetType = UNSET
    locality: str | UnsetType = UNSET
    postalCode: str | UnsetType = UNSET
    birthDate: str | UnsetType = UNSET
    gender: str | UnsetType = UNSET
    platforms: list[PlatformDoc] | UnsetType = UNSET
    attributes: Annotated[dict[str, Any], msgspec.Meta(description="Custom attributes: name -> value.")]
    firstSeen: str | None
    lastSeen: str | None
    devices: Annotated[list[dict[str, Any]], msgspec.Meta(description="MoEngage devices.")] | UnsetType = UNSET


class EventDoc(msgspec.Struct, kw_only=True):
    """An event: its time as sent when sent as text, else formatted (`yyyy-MM-ddTHH:mm:ss+0000`)."""

    eventName: str
    eventTime: str
    eventData: dict[str, Any]
    userId: str | None
    anonymousId: str | None
    receivedAt: str
    context: Annotated[dict[str, Any], msgspec.Meta(description="MoEngage: device, platform, ...")] | UnsetType = UNSET


_NEXT = Annotated[str | None, msgspec.Meta(description="The cursor of the next page (null: this is the last).")]


class EventsPage(msgspec.Struct):
    """A user's events, newest first."""

    events: list[EventDoc]
    next: _NEXT


class StatsDoc(msgspec.Struct):
    """Counts of the account's data; `pending`: accepted, not processed yet; `deadLetters`: not applicable."""

    users: int
    anonymousUsers: int
    events: int
    pending: int
    deadLetters: int


class SchemaEntry(msgspec.Struct):
    type: Annotated[str, msgspec.Meta(description="The type the first value locked.")]
    firstSeen: str


class SchemaDoc(msgspec.Struct):
    """The attribute catalogue: user attributes, and each event's attributes, with their locked types."""

    users: dict[str, SchemaEntry]
    events: dict[str, dict[str, SchemaEntry]]


class RejectionDoc(msgspec.Struct, kw_only=True):
    """A datum the processor dropped or truncated, with its reason."""

    id: int
    kind: str
    userId: str | None
    anonymousId: str | None
    eventName: str | None
    field: str
    reason: str
    detail: str
    value: Any
    action: Literal["dropped", "truncated"]
    at: str


class RejectionsPage(msgspec.Struct):
    """Rejections, newest first."""

    rejections: list[RejectionDoc]
    next: _NEXT


class MergeDoc(msgspec.Struct, kw_only=True):
    """An entry of the merge ledger: profile `fromProfile` merged into `intoProfile`."""

    id: int
    kind: Annotated[str, msgspec.Meta(description="identify (anonymous into known) or merge (known into known).")]
    userId: str | None
    anonymousId: str | None
    mergedUser: str | None
    fromProfile: int
    intoProfile: int
    at: str


class MergesPage(msgspec.Struct):
    """Merges, newest first."""

    merges: list[MergeDoc]
    next: _NEXT


class DeadLetterDoc(msgspec.Struct, kw_only=True):
    """A log entry the processor could not apply, kept to retry or drop (`openengage dead-letters`)."""

    id: int
    logId: int
    error: Annotated[str, msgspec.Meta(description="The exception's type.")]
    message: str
    records: int
    attempts: int
    requeued: Annotated[bool, msgspec.Meta(description="A retry is in the ingest log, not applied yet.")]
    receivedAt: str
    failedAt: str
    payload: Annotated[Any, msgspec.Meta(description="The entry's records (OpenEngage's record format).")]


class DeadLettersPage(msgspec.Struct):
    """Dead letters, newest first."""

    deadLetters: list[DeadLetterDoc]
    next: _NEXT


# ---------------------------------------------------------------- request traces


def trace_status(trace: RequestTrace) -> str:
    if trace.pending:
        return "pending"
    return "failed" if any(p.dead_letter for p in trace.parts) else "processed"


def trace_doc(trace: RequestTrace) -> dict[str, Any]:
    """A request's trace: received, committed, processed (time and lag), the profiles, what was stored
    and every datum dropped or truncated."""
    processed = trace.processed_at
    return {
        "requestId": trace.request_id,
        "endpoint": trace.endpoint,
        "dialect": trace.dialect,
        "receivedAt": format_ms(trace.received_at),
        "committedAt": format_ms(trace.committed_at),
        "records": trace.records,
        "status": trace_status(trace),
        "processedAt": _time(processed),
        "lagMs": None if processed is None else max(0, processed - trace.committed_at),
        "profiles": [
            {
                "userId": s.value if s.kind == "u" else None,
                "anonymousId": s.value if s.kind == "a" else None,
                "found": s.found,
                "profileUserId": s.user_id,
            }
            for s in trace.subjects
        ],
        "deadLetters": [p.dead_letter for p in trace.parts if p.dead_letter],
        "events": [event_doc(e) for e in trace.events],
        "rejections": [rejection_doc(r) for r in trace.rejections],
    }


class TraceProfileDoc(msgspec.Struct, kw_only=True):
    """A person the request named (its user id, else its anonymous id) and the profile that id leads to now."""

    userId: str | None
    anonymousId: str | None
    found: Annotated[bool, msgspec.Meta(description="The id leads to a stored profile (false: not yet, or erased).")]
    profileUserId: Annotated[
        str | None, msgspec.Meta(description="That profile's user id (an anonymous id identified since: its user).")
    ]


class TraceDoc(msgspec.Struct, kw_only=True):
    """What happened to one accepted ingest request."""

    requestId: str
    endpoint: Annotated[str, msgspec.Meta(description="`/events`, `/bulk-users`, `/v1/event`, ...")]
    dialect: Literal["webengage", "moengage"]
    receivedAt: str
    committedAt: Annotated[str, msgspec.Meta(description="When the group commit that made it durable began.")]
    records: int
    status: Literal["pending", "processed", "failed"]
    processedAt: Annotated[str | None, msgspec.Meta(description="null while pending.")]
    lagMs: Annotated[int | None, msgspec.Meta(description="processedAt - committedAt, in milliseconds.")]
    profiles: list[TraceProfileDoc]
    deadLetters: Annotated[list[str], msgspec.Meta(description="Failed: the error that set it aside.")]
    events: Annotated[list[EventDoc], msgspec.Meta(description="The events it stored (the first 100).")]
    rejections: Annotated[list[RejectionDoc], msgspec.Meta(description="Every datum it had dropped or truncated.")]
