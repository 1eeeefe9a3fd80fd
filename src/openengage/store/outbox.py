"""What both backends' outboxes decide alike: which transactions of a batch are admitted (pure).

A transaction is a duplicate when the latest one with its (account, txn_id) is still inside its dedupe
window (or an earlier one of the same batch had the id): it stores nothing and answers what the first
answered. Otherwise it costs 1 against the account's `transactions` limit, decided by the same
`common.Admission` as ingest (a refused request consumes nothing), on window counts read under the
backend's locks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from openengage.rules.windows import reset_seconds
from openengage.store import common
from openengage.store.base import Outgoing, Submission, TxnOutcome, TxnSubmission
from openengage.store.common import Admission

BUCKET = "transactions"


def outgoing_of(row: Sequence[Any], owner: str) -> Outgoing:
    """A claimed message from a row of either backend's claim query (same columns, same order)."""
    return Outgoing(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        row[3],
        row[4],
        row[5],
        int(row[6]),
        int(row[7]),
        row[8],
        row[9],
        int(row[10]),
        int(row[11]),
        int(row[12]),
        common.json_decode(bytes(row[13])),
        owner,
    )


def txn_row(t: TxnSubmission, now: int, log_id: int) -> tuple[Any, ...]:
    """The `txn_insert` parameters of an accepted transaction (both backends' queries take this order)."""
    dedupe_until = now + t.dedupe_ms if t.dedupe_ms else 0
    return (t.account_id, t.txn_id, t.user_id, t.mode, now, now + t.ttl_ms, dedupe_until, log_id, t.data, t.response)


def message_rows(t: TxnSubmission, txn_pk: int, now: int, log_id: int) -> list[tuple[Any, ...]]:
    """The `message_insert` parameters of a transaction's messages, in their order (`seq`)."""
    account, expires = t.account_id, now + t.ttl_ms
    return [
        (txn_pk, account, seq, m.campaign_id, m.experiment_id, m.channel, m.status, m.detail, now, expires, log_id, now)
        for seq, m in enumerate(t.messages)
    ]


def as_submission(t: TxnSubmission) -> Submission:
    """The rate-limit view of a transaction: one request on the `transactions` bucket."""
    return Submission(t.account_id, BUCKET, 1, t.limit, b"", t.records)


@dataclasses.dataclass
class TxnAdmission:
    """`prior(account, txn_id)` gives (dedupe_until, response) of the latest stored transaction or None;
    `used(account, bucket)` the count of the current rate window (both read under the backend's locks)."""

    now_ms: int
    prior: Callable[[int, str], tuple[int, bytes] | None]
    used: Callable[[int, str], int]
    accepted: list[TxnSubmission] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.rates = Admission(self.now_ms, lambda sub: False, self.used)

    def decide(self, batch: Sequence[TxnSubmission]) -> list[TxnOutcome]:
        outcomes: list[TxnOutcome] = []
        first: dict[tuple[int, str], TxnSubmission] = {}
        for t in batch:
            key = (t.account_id, t.txn_id)
            if key in first:  # the same id twice in one commit: the second is the first's duplicate
                earlier = first[key]
                if earlier.dedupe_ms > 0:
                    outcomes.append(self._duplicate(t, earlier.response))
                    continue
            else:
                stored = self.prior(*key)
                if stored is not None and stored[0] > self.now_ms:
                    outcomes.append(self._duplicate(t, stored[1]))
                    continue
            outcome = self.rates.decide([as_submission(t)])[0]
            if outcome.status == "limited":
                outcomes.append(TxnOutcome("limited", outcome.limit, outcome.remaining, outcome.reset_seconds))
                continue
            first[key] = t
            self.accepted.append(t)
            outcomes.append(TxnOutcome("accepted", outcome.limit, outcome.remaining, outcome.reset_seconds))
        return outcomes

    def _duplicate(self, t: TxnSubmission, response: bytes) -> TxnOutcome:
        outcome = self.rates._outcome("duplicate", as_submission(t), reset_seconds(self.now_ms))
        return TxnOutcome("duplicate", outcome.limit, outcome.remaining, outcome.reset_seconds, response)

    @property
    def counters(self) -> dict[tuple[int, str], int]:
        return self.rates.counters
