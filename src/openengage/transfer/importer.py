"""`openengage import`: users or events from a file, through the same rules as the API.

Each row is a WebEngage `/users` or `/events` body, checked by the very parser the endpoint uses (a row the
API would refuse with 400 is reported with its line number and the API's message, and skipped). Accepted
records are appended to the ingest log in durable batches, like a request's, and the processor applies
them with every attribute, type-lock and identity rule. Imports are not charged against rate limits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from openengage.api import webengage
from openengage.api.webengage_schema import Invalid
from openengage.records import RawEventRecord, Record, encode_records
from openengage.store.base import Store, Submission
from openengage.transfer.rows import BadRow, Row

BATCH_RECORDS = 500  # records a log entry carries (event ids allow 65,536 per entry)
BUCKET = "import"

PARSERS: dict[str, Callable[[bytes], Sequence[Record | RawEventRecord]]] = {
    "users": webengage.users,
    "events": webengage.events,
}


@dataclasses.dataclass
class ImportReport:
    rows: int = 0  # rows read, bad ones included
    records: int = 0  # records appended to the ingest log
    bad_rows: int = 0


async def import_rows(
    store: Store,
    account_id: int,
    kind: str,
    rows: Iterable[Row | BadRow],
    on_bad: Callable[[BadRow], None],
) -> ImportReport:
    """Append every good row's records; call `on_bad` for each bad row. Durable when it returns."""
    parse = PARSERS[kind]
    report = ImportReport()
    pending: list[Record | RawEventRecord] = []

    async def flush() -> None:
        if pending:
            payload = encode_records(pending)
            await store.append([Submission(account_id, BUCKET, 0, 0, payload, len(pending))])
            report.records += len(pending)
            pending.clear()

    for row in rows:
        report.rows += 1
        if isinstance(row, BadRow):
            report.bad_rows += 1
            on_bad(row)
            continue
        try:
            pending.extend(parse(row.body))
        except Invalid as exc:
            report.bad_rows += 1
            on_bad(BadRow(exc.message.removeprefix("Error: "), row.line))
            continue
        if len(pending) >= BATCH_RECORDS:
            await flush()
    await flush()
    return report
