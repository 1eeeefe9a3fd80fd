"""`openengage export`: every user or event of an account, streamed as NDJSON or CSV.

The output is what `openengage import` reads, so an export imports back (into another account or store):

- users, NDJSON: one WebEngage `/users` body per profile (`userId`, or `anonymousId` for an anonymous
  profile, the WebEngage system attributes, `attributes`), then one `{"userId", "anonymousId"}` line per
  anonymous id merged into a known user, which an import replays as the identify that linked them;
- events, NDJSON: one `/events` body per event (`eventTime` exactly as sent, else the stored instant in
  epoch milliseconds);
- CSV: the same fields as columns; custom attributes become columns typed by the account's locked schema
  (`age:number`), so the import reads each cell back as the type it was.

Not exported: MoEngage devices and platforms, first/last seen, receive times (an import is a new arrival).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from openengage.rules.dates import epoch_to_ms, format_ms
from openengage.store.base import Event, Profile, Store
from openengage.transfer.rows import EVENT_FIELDS, USER_BOOLEAN_FIELDS, USER_FIELDS

PAGE = 1000
_encode = msgspec.json.encode
# WebEngage field order for users (the order of the seed's parameter table), then the opt-ins.
USER_COLUMNS = (
    "userId", "anonymousId", "firstName", "lastName", "email", "phone", "birthDate", "gender", "company",
    "hashedEmail", "hashedPhone", "country", "city", "region", "locality", "postalCode",
    "emailOptIn", "smsOptIn", "whatsappOptIn", "rcsOptIn",
)  # fmt: skip
EVENT_COLUMNS = ("userId", "anonymousId", "eventName", "eventTime")
# eventTime holds text or a number of milliseconds: a JSON cell keeps which one it was.
_FIXED_TYPES = {"eventTime": "json"}
_TYPE_SUFFIX = {"String": "string", "Number": "number", "Boolean": "boolean", "Date": "date"}
_WEBENGAGE_FIELDS = USER_FIELDS | USER_BOOLEAN_FIELDS
assert set(USER_COLUMNS) == _WEBENGAGE_FIELDS and set(EVENT_COLUMNS) == EVENT_FIELDS


def event_time(event: Event) -> str | int:
    """The time as sent when sent as text, else the stored instant in epoch milliseconds, so an import
    stores exactly what is stored here. Below 10^11 (1966-10 to 1973-03) a number reads as seconds: those
    instants are written as text with milliseconds (same instant; the read API then shows that text)."""
    if event.time_text is not None:
        return event.time_text
    if epoch_to_ms(event.time_ms) == event.time_ms:
        return event.time_ms
    text = format_ms(event.time_ms)
    return f"{text[:19]}.{event.time_ms % 1000:03d}{text[19:]}"


def user_bodies(profile: Profile) -> list[dict[str, Any]]:
    """A profile as `/users` bodies: the profile, then one identify per merged anonymous id."""
    data = profile.data
    body: dict[str, Any] = {}
    if data.user_id is not None:
        body["userId"] = data.user_id
    elif profile.anonymous_ids:
        body["anonymousId"] = profile.anonymous_ids[0]
    else:
        return []  # an identity-less husk (deleted user's leftover): nothing an import could address
    body.update((k, v) for k, v in data.system.items() if k in _WEBENGAGE_FIELDS)
    if data.attributes:
        body["attributes"] = data.attributes
    bodies = [body]
    if data.user_id is not None:
        bodies += [{"userId": data.user_id, "anonymousId": a} for a in profile.anonymous_ids]
    return bodies


def event_body(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if event.user_id is not None:
        body["userId"] = event.user_id
    if event.anonymous_id is not None:
        body["anonymousId"] = event.anonymous_id
    body["eventName"] = event.name
    body["eventTime"] = event_time(event)
    if event.data:
        body["eventData"] = event.data
    return body


async def _profiles(store: Store, account_id: int) -> AsyncIterator[Profile]:
    after = 0
    while batch := await store.profiles_after(account_id, after, PAGE):
        for profile in batch:
            yield profile
        after = batch[-1].id


async def _events(store: Store, account_id: int) -> AsyncIterator[Event]:
    after = 0
    while batch := await store.events_after(account_id, after, PAGE):
        for event in batch:
            yield event
        after = batch[-1].id


async def attribute_columns(store: Store, account_id: int, kind: str) -> list[tuple[str, str]]:
    """(name, CSV type) of every custom attribute: users' attributes, or the union of every event's;
    a name locked to two types by two events becomes a JSON column."""
    types: dict[str, str] = {}
    for attr in await store.schema(account_id):
        if (attr.scope == "user") != (kind == "users"):
            continue
        ctype = _TYPE_SUFFIX.get(attr.type, "json")
        types[attr.name] = ctype if types.get(attr.name, ctype) == ctype else "json"
    return sorted(types.items())


def _cell(value: Any, ctype: str) -> str:
    if value is None:
        return ""
    if ctype == "json" or isinstance(value, (dict, list)):
        return _encode(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def export(
    store: Store, account_id: int, kind: str, fmt: str, write: Callable[[str], None], progress: Callable[[int], None]
) -> int:
    """Write every user or event of the account; `progress(n)` after each profile or event. Returns rows."""
    rows = 0
    columns: list[tuple[str, str]] = []
    sheet = io.StringIO()
    out = csv.writer(sheet, lineterminator="\n")

    def line(body: dict[str, Any]) -> None:
        nonlocal rows
        rows += 1
        if fmt == "ndjson":
            write(_encode(body).decode() + "\n")
            return
        fixed = USER_COLUMNS if kind == "users" else EVENT_COLUMNS
        custom = body.get("attributes" if kind == "users" else "eventData", {})
        fixed_cells = [_cell(body.get(name), _FIXED_TYPES.get(name, "string")) for name in fixed]
        out.writerow(fixed_cells + [_cell(custom.get(n), t) for n, t in columns])
        write(sheet.getvalue())
        sheet.seek(0)
        sheet.truncate()

    if fmt == "csv":
        columns = await attribute_columns(store, account_id, kind)
        fixed = USER_COLUMNS if kind == "users" else EVENT_COLUMNS
        # A custom attribute named like a WebEngage field cannot be a CSV column (the import would read it
        # as the field): NDJSON keeps those.
        columns = [(n, t) for n, t in columns if n not in fixed]
        header = [f"{n}:{_FIXED_TYPES[n]}" if n in _FIXED_TYPES else n for n in fixed]
        out.writerow(header + [f"{n}:{t}" for n, t in columns])
        write(sheet.getvalue())
        sheet.seek(0)
        sheet.truncate()
    if kind == "users":
        async for profile in _profiles(store, account_id):
            for body in user_bodies(profile):
                line(body)
            progress(1)
    else:
        async for event in _events(store, account_id):
            line(event_body(event))
            progress(1)
    return rows
