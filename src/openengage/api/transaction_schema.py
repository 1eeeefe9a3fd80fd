"""The Transactional Campaign API's request body: WebEngage JSON in, a checked request out (pure).

Fields (docs.webengage.com "Transactional Campaign API" and "Multi-Campaign Transaction API"): `userId`
(required, at most 100 characters), `ttl` (seconds, default 120), `dedupe.ttl` (5 to 1800 seconds),
`txnId` (generated when absent: a UUIDv7, whose high bits are the receive time), `overrideData.email`,
`overrideData.phone`, `overrideData.context.token` (values for `{{ token.x }}`), and `trackConfig`
(`eventName`: an event emitted with the transaction; `updateUser`: a /users body for the same user). Every
problem is a 400 whose message names the field.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from openengage.api.guard import MAX_DEPTH, too_deep
from openengage.api.webengage_schema import Invalid, decode_body, parse_event, parse_user
from openengage.records import EventRecord, UserRecord

DEFAULT_TTL = 120
MAX_TTL = 7 * 24 * 3600
DEDUPE_MIN, DEDUPE_MAX = 5, 1800
MAX_TXN_ID = 200
MAX_USER_ID = 100
MODES = ("all", "fallback_on_attempt_failure", "fallback_on_delivery_failure")
MAX_CAMPAIGNS = 10


@dataclasses.dataclass(frozen=True)
class TxnRequest:
    user_id: str
    txn_id: str
    ttl: int  # seconds
    dedupe: int  # seconds; 0 when no dedupe window was asked for
    email: str | None
    phone: str | None
    token: dict[str, Any]
    update_user: UserRecord | None
    event: EventRecord | None


class _RandomPool:
    """os.urandom() bytes fetched 4,000 at a time: the system call per id cost ~10 µs a request on the
    event loop (bench/asgi_cost.py); one call now serves 400 ids. Not thread-safe: the event loop's
    thread is its only caller."""

    def __init__(self) -> None:
        self.data, self.at = b"", 0
        os.register_at_fork(after_in_child=self.forget)

    def forget(self) -> None:
        self.data, self.at = b"", 0  # a forked child must not hand out its parent's bytes

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            self.data, self.at = os.urandom(4000), 0
        self.at += n
        return self.data[self.at - n : self.at]


_random = _RandomPool()


def uuid7(now_ms: int | None = None) -> str:
    """RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then version, variant and random bits, so ids sort
    by the time they were made. Built from bytes (every ingest request without an x-request-id gets one:
    a third of the cost of going through uuid.UUID)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    b = bytearray((ms & 0xFFFFFFFFFFFF).to_bytes(6, "big") + _random.take(10))
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _text(obj: dict[str, Any], field: str, name: str, limit: int, required: bool = False) -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(f"Error: {field} cannot be empty.")
        return None
    if not isinstance(value, str):
        raise Invalid(f"Error: {field} must be a string, not {_kind(value)}.")
    if len(value) > limit:
        raise Invalid(f"Error: {field} can be of maximum {limit} characters (got {len(value)}).")
    if "\x00" in value:
        raise Invalid(f"Error: {field} contains the NUL character (\\u0000).")
    return value


def _seconds(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise Invalid(f"Error: {field} must be a number of seconds, not {_kind(value)}.")
    if not low <= value <= high:
        raise Invalid(f"Error: {field} must be from {low} to {high} seconds (got {value}).")
    return int(value)


def _object(obj: dict[str, Any], field: str, name: str) -> dict[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"Error: {field} must be a JSON object, not {_kind(value)}.")
    return value


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() or c in '<>,;"' for c in value):
        raise Invalid(f"Error: overrideData.email '{value}' is not an email address.")
    return value


def _prefixed(exc: Invalid, prefix: str) -> Invalid:
    return Invalid(exc.message.replace("Error: ", f"Error: {prefix}", 1), exc.errors)


def _track(body: dict[str, Any], user_id: str, txn_id: str) -> tuple[UserRecord | None, EventRecord | None]:
    track = _object(body, "trackConfig", "trackConfig")
    update_user = event = None
    if track.get("updateUser") is not None:
        user = _object(track, "trackConfig.updateUser", "updateUser")
        if user.get("userId") not in (None, "", user_id):
            raise Invalid("Error: trackConfig.updateUser.userId must be the transaction's userId (or left out).")
        if user.get("anonymousId") not in (None, ""):
            raise Invalid("Error: trackConfig.updateUser cannot carry an anonymousId.")
        try:
            update_user = parse_user({**user, "userId": user_id})
        except Invalid as exc:
            raise _prefixed(exc, "trackConfig.updateUser: ") from None
    if track.get("eventName") is not None:
        try:
            event = parse_event({"userId": user_id, "eventName": track["eventName"], "eventData": {"txnId": txn_id}})
        except Invalid as exc:
            raise _prefixed(exc, "trackConfig.") from None
    return update_user, event


def parse(raw: bytes) -> TxnRequest:
    if too_deep(raw):
        raise Invalid(f"Error: request body is nested too deeply; at most {MAX_DEPTH} levels are accepted.")
    body = decode_body(raw)
    user_id = _text(body, "userId", "userId", MAX_USER_ID, required=True)
    assert user_id is not None
    ttl = DEFAULT_TTL if body.get("ttl") is None else _seconds(body["ttl"], "ttl", 1, MAX_TTL)
    dedupe = 0
    if body.get("dedupe") is not None:
        window = _object(body, "dedupe", "dedupe")
        if window.get("ttl") is None:
            raise Invalid("Error: dedupe.ttl cannot be empty when dedupe is sent.")
        dedupe = _seconds(window["ttl"], "dedupe.ttl", DEDUPE_MIN, DEDUPE_MAX)
    txn_id = _text(body, "txnId", "txnId", MAX_TXN_ID) or uuid7()
    override = _object(body, "overrideData", "overrideData")
    email = _email(_text(override, "overrideData.email", "email", 254))
    phone = _text(override, "overrideData.phone", "phone", 32)
    context = _object(override, "overrideData.context", "context")
    token = _object(context, "overrideData.context.token", "token")
    update_user, event = _track(body, user_id, txn_id)
    return TxnRequest(user_id, txn_id, ttl, dedupe, email, phone, token, update_user, event)


def parse_campaign_ids(values: list[str]) -> list[str]:
    if not values or any(not v for v in values):
        raise Invalid("Error: campaignIds cannot be empty; repeat ?campaignIds=ID for each campaign.")
    if len(values) > MAX_CAMPAIGNS:
        raise Invalid(f"Error: campaignIds can name at most {MAX_CAMPAIGNS} campaigns (got {len(values)}).")
    if len(set(values)) != len(values):
        raise Invalid("Error: campaignIds names a campaign twice.")
    return values


def parse_mode(value: str | None) -> str:
    if not value:
        raise Invalid(f"Error: mode cannot be empty; use one of {', '.join(MODES)}.")
    if value not in MODES:
        raise Invalid(f"Error: mode must be one of {', '.join(MODES)}, not '{value}'.")
    return value
