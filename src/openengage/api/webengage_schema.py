"""WebEngage request validation: vendor JSON in, internal records out (pure).

Structural problems raise Invalid with the vendor-style message ("Error: ... ."), answered
synchronously with 400 and nothing stored. Well-typed data that a content rule later drops (a `we_`
name, a type conflict, a 26th attribute of a type) is accepted here and recorded by the processor.
Choices where the seeds are silent are documented in docs/webengage.md.

What no store can hold is refused here too (api/guard.py): bodies nested more than MAX_DEPTH levels,
the NUL character anywhere, and dates outside the supported range (rules/dates.py).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from openengage import reasons
from openengage.api.guard import MAX_DEPTH, NUL_ESCAPE, NUL_TEXT, big_numbers, describe, nul_path, too_deep
from openengage.records import Drop, EventRecord, RawEventRecord, UserRecord
from openengage.rules.dates import DOCUMENTED_FORMAT, SUPPORTED_RANGE, epoch_to_ms, out_of_range, parse_iso
from openengage.rules.system_events import SYSTEM_EVENTS, is_system_event

MAX_ID_LENGTH = 100
MAX_EVENT_NAME_LENGTH = 49
MAX_BULK = 25

# Seed parameter tables, plus fields public clients send (RudderStack: location fields; rcsOptIn from
# the current WebEngage page). Values keep their WebEngage names in the profile.
USER_STRING_FIELDS = (
    "firstName", "lastName", "email", "company", "hashedEmail", "hashedPhone",
    "country", "city", "region", "locality", "postalCode",
)  # fmt: skip
USER_BOOL_FIELDS = ("emailOptIn", "smsOptIn", "whatsappOptIn", "rcsOptIn")
GENDERS = ("male", "female", "other")
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_ID_FIELDS = ("userId", "anonymousId")
_USER_KNOWN = frozenset(
    {*_ID_FIELDS, *USER_STRING_FIELDS, *USER_BOOL_FIELDS, "birthDate", "gender", "phone", "attributes"}
)
_EVENT_KNOWN = frozenset({*_ID_FIELDS, "eventName", "eventTime", "eventData"})
TOO_DEEP = f"nested too deeply; at most {MAX_DEPTH} levels of objects and arrays are accepted"
BIG_NUMBER = "a number out of range (beyond ±1.8e308, or an integer of more than 4300 digits)"


class Invalid(Exception):
    """A request the API refuses; the message is what the client sees."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _present(value: Any) -> bool:
    """Null and "" count as not sent (some clients serialise every field, empty or not)."""
    return value is not None and value != ""


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise Invalid("Error: request body is empty; send a JSON object.")
    if too_deep(body):
        raise Invalid(f"Error: request body is {TOO_DEEP}.")
    try:
        data = msgspec.json.decode(body)
    except RecursionError:  # not reached past too_deep(); kept so no body can turn into a 500
        raise Invalid(f"Error: request body is {TOO_DEEP}.") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec < 0.20 raised UnicodeDecodeError for bytes that are not UTF-8; later releases raise
        # DecodeError. Tell the client which one it is, whatever the installed release says.
        if not _is_utf8(body):
            raise Invalid("Error: request body is not valid JSON (it is not UTF-8).") from None
        if "out of range" in str(exc):
            raise Invalid(f"Error: request body holds {BIG_NUMBER}; send such a value as a string.") from None
        raise Invalid(f"Error: request body is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise Invalid(f"Error: request body must be a JSON object, not {_type_name(data)}.")
    return data


def _storable(value: Any, root: str = "") -> None:
    """Refuse U+0000 anywhere in `value`, naming where (PostgreSQL cannot store it)."""
    found = nul_path(value, root)
    if found is not None:
        raise Invalid(f"Error: {describe(*found)} contains {NUL_TEXT}.")


def _ids(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    user_id, anonymous_id = obj.get("userId"), obj.get("anonymousId")
    # Fast path for the common shapes; anything else goes through the checks that explain the error.
    if (
        (user_id is None or (type(user_id) is str and len(user_id) <= MAX_ID_LENGTH))
        and (anonymous_id is None or (type(anonymous_id) is str and len(anonymous_id) <= MAX_ID_LENGTH))
        and (user_id or anonymous_id)
    ):
        return user_id or None, anonymous_id or None
    ids: list[str | None] = []
    for name in _ID_FIELDS:
        value = obj.get(name)
        if not _present(value):
            ids.append(None)
            continue
        if not isinstance(value, str):
            raise Invalid(f"Error: {name} must be a string, not {_type_name(value)}.")
        if len(value) > MAX_ID_LENGTH:
            raise Invalid(f"Error: {name} can be of maximum {MAX_ID_LENGTH} characters (got {len(value)}).")
        ids.append(value)
    if ids[0] is None and ids[1] is None:
        raise Invalid("Error: userId and anonymousId cannot be empty.")
    return ids[0], ids[1]


def _unknown(obj: dict[str, Any], known: frozenset[str]) -> list[Drop]:
    if obj.keys() <= known:  # the common case, checked in C
        return []
    return [Drop(key, reasons.UNKNOWN_FIELD, value) for key, value in obj.items() if key not in known]


def _date(field: str, value: str) -> int:
    ms = parse_iso(value)
    if ms is None:
        if out_of_range(value):
            raise Invalid(f"Error: {field} '{value}' is outside the supported range, {SUPPORTED_RANGE}.")
        raise Invalid(f"Error: {field} '{value}' is not a valid date; use {DOCUMENTED_FORMAT}.")
    return ms


def _system_fields(obj: dict[str, Any]) -> dict[str, Any]:
    system: dict[str, Any] = {}
    for name in USER_STRING_FIELDS:
        value = obj.get(name)
        if _present(value):
            if not isinstance(value, str):
                raise Invalid(f"Error: {name} must be a string, not {_type_name(value)}.")
            system[name] = value
    for name in USER_BOOL_FIELDS:
        value = obj.get(name)
        if value is not None:
            if not isinstance(value, bool):
                raise Invalid(f"Error: {name} must be a boolean (true or false), not {_type_name(value)}.")
            system[name] = value
    birth = obj.get("birthDate")
    if _present(birth):
        if not isinstance(birth, str):
            raise Invalid(f"Error: birthDate must be a string in the format {DOCUMENTED_FORMAT}.")
        _date("birthDate", birth)
        system["birthDate"] = birth
    gender = obj.get("gender")
    if _present(gender):
        if not isinstance(gender, str) or gender.lower() not in GENDERS:
            raise Invalid("Error: gender must be one of male, female or other.")
        system["gender"] = gender.lower()
    phone = obj.get("phone")
    if _present(phone):
        if not isinstance(phone, str) or not _E164.fullmatch(phone):
            raise Invalid("Error: phone must be in E.164 format, e.g. +551155256325.")
        system["phone"] = phone
    return system


def parse_user(obj: Any) -> UserRecord:
    if not isinstance(obj, dict):
        raise Invalid(f"Error: a user must be a JSON object, not {_type_name(obj)}.")
    _storable(obj)
    user_id, anonymous_id = _ids(obj)
    system = _system_fields(obj)
    attributes = obj.get("attributes")
    if attributes is None:
        attributes = {}
    elif not isinstance(attributes, dict):
        raise Invalid(f"Error: attributes must be a JSON object, not {_type_name(attributes)}.")
    return UserRecord(
        user_id=user_id,
        anonymous_id=anonymous_id,
        system=system,
        attributes=attributes,
        dropped=_unknown(obj, _USER_KNOWN),
    )


def _event_time(value: Any) -> tuple[int | None, str | None]:
    if type(value) is str and value:
        return _date("eventTime", value), value
    if not _present(value):
        return None, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        ms = epoch_to_ms(value)
        if ms is None:
            raise Invalid(
                f"Error: eventTime {value} is outside the supported range, {SUPPORTED_RANGE} "
                f"(epoch seconds, or milliseconds from 10^11 up)."
            )
        return ms, None
    raise Invalid(f"Error: eventTime must be a string in the format {DOCUMENTED_FORMAT}.")


def _event_data(value: Any) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        # The seeds type eventData as "String": accept a JSON-encoded object too, with the body's limits.
        if too_deep(value.encode(errors="surrogatepass"), MAX_DEPTH - 1):
            raise Invalid(f"Error: eventData is {TOO_DEEP}.")
        try:
            value = msgspec.json.decode(value)
        except (msgspec.DecodeError, RecursionError):
            raise Invalid("Error: eventData must be a JSON object of event attributes.") from None
        _storable(value, "eventData")
    if not isinstance(value, dict):
        raise Invalid(f"Error: eventData must be a JSON object, not {_type_name(value)}.")
    return value


def _event_name(name: Any) -> str:
    if type(name) is str and 0 < len(name) <= MAX_EVENT_NAME_LENGTH and not is_system_event(name):
        return name
    if not _present(name):
        raise Invalid("Error: eventName cannot be empty.")
    if not isinstance(name, str):
        raise Invalid(f"Error: eventName must be a string, not {_type_name(name)}.")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise Invalid(
            f"Error: eventName must be less than {MAX_EVENT_NAME_LENGTH + 1} characters long (got {len(name)})."
        )
    raise Invalid(f"Error: eventName '{name}' is a system event; system events cannot be created through the API.")


def parse_event(obj: Any) -> EventRecord:
    if type(obj) is not dict:
        raise Invalid(f"Error: an event must be a JSON object, not {_type_name(obj)}.")
    _storable(obj)
    user_id, anonymous_id = _ids(obj)
    name = _event_name(obj.get("eventName"))
    time_ms, time_text = _event_time(obj.get("eventTime"))
    data = _event_data(obj.get("eventData"))
    if obj.keys() <= _EVENT_KNOWN:  # checked in C: the common case has no unknown fields
        return EventRecord(name, user_id, anonymous_id, time_ms, time_text, data)
    return EventRecord(name, user_id, anonymous_id, time_ms, time_text, data, dropped=_unknown(obj, _EVENT_KNOWN))


def parse_bulk(body: dict[str, Any], key: str, parse: Any) -> list[Any]:
    """`{"users": [...]}` / `{"events": [...]}`: 1 to 25 records, refused whole if any is invalid."""
    items = body.get(key)
    if not isinstance(items, list):
        raise Invalid(f"Error: {key} must be an array of 1 to {MAX_BULK} records.")
    if not 1 <= len(items) <= MAX_BULK:
        raise Invalid(f"Error: {key} must hold 1 to {MAX_BULK} records per call (got {len(items)}).")
    records: list[Any] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            records.append(parse(item))
        except Invalid as exc:
            errors.append({"index": index, "message": exc.message})
    if errors:
        listed = " ".join(f"{key}[{e['index']}]: {e['message'].removeprefix('Error: ')}" for e in errors)
        raise Invalid(
            f"Error: {len(errors)} of {len(items)} records are invalid; nothing was queued. {listed}",
            errors,
        )
    return records


# ---------------------------------------------------------------- the fast path for events
#
# Most event traffic is well formed. A typed decode checks its structure in C and leaves each
# `eventData` object undecoded (it is written to the log as is); a few cheap checks accept it. A
# body the fast path does not accept, for whatever reason, goes through the slow path above, which
# accepts the same bodies and explains what is wrong with the others (tests check the two agree).
# The edge's limits cost a few byte scans here: a body holding the escape `\u0000` or brackets that could
# nest past MAX_DEPTH is left to the slow path, which looks closer; an eventData whose bytes may hold a
# number past a double's range (the processor could not decode it) is decoded to be sure.


class _EventIn(msgspec.Struct, forbid_unknown_fields=True):
    eventName: str
    userId: str | None = None
    anonymousId: str | None = None
    eventTime: str | int | float | None = None
    eventData: msgspec.Raw = msgspec.Raw(b"{}")


class _BulkEventsIn(msgspec.Struct, forbid_unknown_fields=True):
    events: list[_EventIn]


_decode_event = msgspec.json.Decoder(_EventIn).decode
_decode_bulk_events = msgspec.json.Decoder(_BulkEventsIn).decode


def _fast_event(e: _EventIn) -> RawEventRecord | None:
    user_id, anonymous_id, name, when = e.userId, e.anonymousId, e.eventName, e.eventTime
    if not (user_id or anonymous_id):
        return None
    if (user_id and len(user_id) > MAX_ID_LENGTH) or (anonymous_id and len(anonymous_id) > MAX_ID_LENGTH):
        return None
    if not name or len(name) > MAX_EVENT_NAME_LENGTH or name in SYSTEM_EVENTS:
        return None
    time_ms: int | None = None
    time_text: str | None = None
    if isinstance(when, str):
        if when:
            time_ms, time_text = parse_iso(when), when
            if time_ms is None:
                return None
    elif when is not None:
        time_ms = epoch_to_ms(when)
        if time_ms is None:
            return None
    if bytes(memoryview(e.eventData)[:1]) != b"{":  # null, a string or an array: the slow path decides
        return None
    return RawEventRecord(name, user_id or None, anonymous_id or None, time_ms, time_text, e.eventData)


def _storable_data(data: msgspec.Raw, above: int, numbers: bool) -> bool:
    """Whether one eventData, left undecoded, is within the edge's limits; else the slow path decides.

    `above`: the levels that hold it in the body, when the events' data may nest too deep (else 0).
    `numbers`: when the data may hold a number past a double's range, which skipping a value does not
    check and the processor could not decode.
    """
    raw = bytes(data)
    if above and too_deep(raw, MAX_DEPTH - above):
        return False
    if not numbers or not big_numbers(raw):
        return True
    try:  # something looks like a big number (a hex id such as "7305e767" does): decode to be sure
        msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return False
    return True


def fast_events(body: bytes, bulk: bool) -> list[RawEventRecord] | None:
    """The records of a well-formed `/events` or `/bulk-events` body, or None (use the slow path)."""
    if NUL_ESCAPE in body:
        return None
    try:
        items = _decode_bulk_events(body).events if bulk else [_decode_event(body)]
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    if not 1 <= len(items) <= MAX_BULK:
        return None
    # Every field but eventData is a scalar here, so only eventData can nest or hold an undecoded number.
    # A few scans of all the events' data at once clear both concerns in the usual case.
    data = bytes(items[0].eventData) if len(items) == 1 else b",".join([item.eventData for item in items])
    above = (3 if bulk else 1) if data.count(b"[") + data.count(b"{") > MAX_DEPTH - (3 if bulk else 1) else 0
    numbers = big_numbers(data)
    records: list[RawEventRecord] = []
    for item in items:
        if (above or numbers) and not _storable_data(item.eventData, above, numbers):
            return None
        record = _fast_event(item)
        if record is None:
            return None
        records.append(record)
    return records
