"""Business events, written once for every backend over its Executor: definitions and saved events.

Each write is one transaction charged against its limit (`business-definitions`, `business-events`) in
the same transaction (store/limits.py), so a 2xx means the definition or event is committed (SQLite:
fsynced, `synchronous=FULL`). The API validates a saved event against its definition before it calls
`save_business_event`; a definition never loses an attribute or changes a type, so that check stays
true however the two calls interleave.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from openengage.errors import Conflict, NotFound
from openengage.rules import business
from openengage.rules.dates import now_ms
from openengage.store.base import BusinessDefinition, BusinessEvent, Charge, Executor, Outcome, Page, Row
from openengage.store.common import MAX_INT, decode_cursor, encode_cursor, json_decode, json_encode
from openengage.store.limits import charge as charge_limit
from openengage.store.reads import page


def definition_of(r: Row) -> BusinessDefinition:
    """(name, category, attributes, created_at, updated_at[, saved])."""
    attributes = [(str(a[0]), str(a[1])) for a in json_decode(r[2])]
    saved = int(r[5]) if len(r) > 5 else 0
    return BusinessDefinition(r[0], r[1], attributes, int(r[3]), int(r[4]), saved)


def event_of(r: Row) -> BusinessEvent:
    """(id, name, time_ms, time_text, data, received_at)."""
    return BusinessEvent(int(r[0]), r[1], int(r[2]), r[3], json_decode(r[4]), int(r[5]))


def _attributes_json(attributes: list[tuple[str, str]]) -> str:
    return json_encode([list(a) for a in attributes]).decode()


class Business:
    """Mixed into each backend's store, which sets `ex`."""

    ex: Executor

    async def define_business_event(
        self, account_id: int, definition: BusinessDefinition, charge: Charge
    ) -> tuple[BusinessDefinition, bool, Outcome]:
        now = now_ms()
        async with self.ex.transaction() as tx:
            row = await tx.one("business_def_lock", account_id, definition.name)
            if row is None:
                created = await tx.one(
                    "business_def_insert", account_id, definition.name, definition.category,
                    _attributes_json(definition.attributes), now, now,
                )  # fmt: skip
                if created is None:  # defined by a concurrent call a moment ago: ask again
                    raise Conflict(f"business event '{definition.name}' was just defined by another request")
                outcome = await charge_limit(tx, account_id, charge, now)
                made = dataclasses.replace(definition, category=business.CATEGORY, created_at=now, updated_at=now)
                return made, True, outcome
            current = definition_of(row)
            attributes, problem = business.merged_attributes(current.attributes, definition.attributes)
            if attributes is None:
                raise Conflict(f"business event '{definition.name}' is already defined: {problem}")
            changed = attributes != current.attributes
            if changed:
                await tx.run("business_def_update", _attributes_json(attributes), now, account_id, definition.name)
            outcome = await charge_limit(tx, account_id, charge, now)
        updated = BusinessDefinition(current.name, current.category, attributes, current.created_at,
                                     now if changed else current.updated_at)  # fmt: skip
        return updated, False, outcome

    async def business_definitions(self, account_id: int) -> list[BusinessDefinition]:
        return [definition_of(r) for r in await self.ex.all("business_defs_all", account_id)]

    async def business_definition(self, account_id: int, name: str) -> BusinessDefinition | None:
        row = await self.ex.one("business_def_get", account_id, name)
        return None if row is None else definition_of(row)

    async def save_business_event(
        self,
        account_id: int,
        name: str,
        time_ms: int,
        time_text: str | None,
        data: dict[str, Any],
        now: int,
        charge: Charge,
    ) -> tuple[BusinessEvent, Outcome]:
        async with self.ex.transaction() as tx:
            if await tx.one("business_def_get", account_id, name) is None:
                raise NotFound(f"no business event '{name}' is defined")
            row = await tx.one(
                "business_event_insert", account_id, name, time_ms, time_text, json_encode(data).decode(), now
            )
            assert row is not None
            outcome = await charge_limit(tx, account_id, charge, now)
        return BusinessEvent(int(row[0]), name, time_ms, time_text, data, now), outcome

    async def business_events(self, account_id: int, name: str, limit: int, cursor: str | None) -> Page[BusinessEvent]:
        """The saved events of one definition, newest first (event time, then acceptance order)."""
        after = decode_cursor(cursor, 2) or (MAX_INT, MAX_INT)
        rows = await self.ex.all("business_events_page", account_id, name, after[0], after[1], limit + 1)
        return page(rows, limit, event_of, lambda r: encode_cursor(int(r[2]), int(r[0])))
