"""Dead letters, written once for every backend over its Executor: list, count and drop.

A dead letter is a log entry the processor could not apply, set aside by `Claim.dead_letter` in the
transaction that acknowledges it (store/<backend>/processing.py). A retry is per backend
(`retry_dead_letters`, store/<backend>/dead_letters.py): it appends to the ingest log, which on SQLite
is another file.
"""

from __future__ import annotations

from collections.abc import Sequence

from openengage.accounts import SYSTEM, Actor
from openengage.errors import NotFound
from openengage.rules.dates import now_ms
from openengage.store.base import DeadLetter, Executor, Page, Row, Tx
from openengage.store.common import MAX_INT, decode_cursor, encode_cursor
from openengage.store.reads import page


def letter_of(r: Row) -> DeadLetter:
    """(id, account_id, log_id, received_at, records, payload, error, message, failed_at, attempts, requeued)."""
    return DeadLetter(
        int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), bytes(r[5]), str(r[6]), str(r[7]), int(r[8]),
        int(r[9]), bool(r[10]),
    )  # fmt: skip


def missing(wanted: Sequence[int], found: Sequence[int]) -> NotFound | None:
    """NotFound naming the ids asked for that the account does not have, or None."""
    absent = sorted(set(wanted) - set(found))
    if not absent:
        return None
    return NotFound(f"no dead letter {', '.join(map(str, absent))} in this account")


AUDIT_RETRY = "dead_letters.retry"
AUDIT_DROP = "dead_letters.drop"


async def audit(tx: Tx, actor: Actor, account_id: int, action: str, ids: Sequence[int]) -> None:
    """One audit entry for a retry or a drop: the ids, never the records' data."""
    shown = ", ".join(map(str, ids[:50])) + (f" and {len(ids) - 50} more" if len(ids) > 50 else "")
    target = f"{len(ids)} dead letter{'s' if len(ids) != 1 else ''}"
    await tx.run("audit_insert", account_id, now_ms(), actor.name, actor.address, action, target, f"ids: {shown}")


class DeadLetters:
    """Mixed into each backend's store, which sets `ex` and implements `retry_dead_letters`."""

    ex: Executor

    async def _audit_retry(self, account_id: int, ids: Sequence[int], actor: Actor) -> None:
        """After a retry's requeue commits (to the ingest log, which on SQLite is another file)."""
        if ids:
            async with self.ex.transaction() as tx:
                await audit(tx, actor, account_id, AUDIT_RETRY, ids)

    async def dead_letters(self, account_id: int, limit: int, cursor: str | None) -> Page[DeadLetter]:
        """The latest failure first; `requeued` when a retry waits in the ingest log."""
        before = (decode_cursor(cursor, 1) or (MAX_INT,))[0]
        rows = await self.ex.all("dead_letters_page", account_id, before, limit + 1)
        return page(rows, limit, letter_of, lambda r: encode_cursor(int(r[0])))

    async def count_dead_letters(self, account_id: int) -> int:
        row = await self.ex.one("dead_letters_count", account_id)
        return int(row[0]) if row is not None else 0

    async def drop_dead_letters(self, account_id: int, ids: Sequence[int] | None, actor: Actor = SYSTEM) -> list[int]:
        async with self.ex.transaction() as tx:
            found = [int(r[0]) for r in await tx.all("dead_letters_of", account_id)]
            if ids is not None:
                absent = missing(ids, found)
                if absent is not None:
                    raise absent  # the transaction rolls back: nothing is dropped
                found = sorted(set(ids))
            for letter_id in found:
                await tx.run("dead_letter_drop", account_id, letter_id)
            if found:
                await audit(tx, actor, account_id, AUDIT_DROP, found)
        return found
