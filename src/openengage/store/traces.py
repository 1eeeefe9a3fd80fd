"""Request traces and the debugger, written once for every backend over its Executor.

Where the data comes from (docs/dashboard.md "Trace"):
- the ingest log: an API request's log row (PostgreSQL: one per partition its records touch) carries
  its trace, written by `append` in the group commit's own statement (four columns more: the request
  id, the endpoint, when the API received it, the [kind, id] pairs it named; the row's own time is the
  commit's). Nothing else is written on the ingest path.
- `requests`: the traces of entries that left the log, moved there in the transaction that removes
  the entries (SQLite: the maintenance that prunes applied entries; PostgreSQL: the processor's
  acknowledgement, which deletes them). Kept TRACE_RETENTION_MS (`maintain`). Reads look at both.
- `processed_marks`: one row per processing acknowledgement (partition, highest log id, time), written
  in the acknowledging transaction: an entry was processed at the first mark at or past its id.
- events carry their log entry in their id (`log id << 16 | position`), rejections their `log_id`.
- `refused_requests`: the 4xx answers (api/refusals.py), at most REFUSED_PER_ACCOUNT per account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from openengage.store.base import (
    Executor,
    Refusal,
    RequestSeen,
    RequestTrace,
    Row,
    TracePart,
    TraceSubject,
)
from openengage.store.common import json_decode
from openengage.store.reads import event_of, rejection_of

TRACE_RETENTION_MS = 72 * 3600 * 1000  # accepted requests' traces (and processing marks) are kept 72 hours
REFUSED_PER_ACCOUNT = 1000  # refused requests kept per account: the newest
TRACE_EVENTS = 100
TRACE_REJECTIONS = 500
_EVENT_SPAN = 0xFFFF  # event ids of one log entry: (log id << 16) | position


def dialect_of(endpoint: str) -> str:
    return "moengage" if endpoint.startswith("/v1/") else "webengage"


def accepted_status(endpoint: str) -> int:
    """What an accepted request was answered: WebEngage 201, MoEngage 200."""
    return 200 if dialect_of(endpoint) == "moengage" else 201


def _subjects(raw: bytes | str | None) -> list[tuple[str, str]]:
    try:
        pairs = json_decode(raw)
    except ValueError:
        return []
    return [(str(k), str(v)) for k, v in pairs] if isinstance(pairs, list) else []


def names(subjects: bytes | str | None, users: set[str], anonymous: set[str]) -> bool:
    """Whether a trace's subjects name one of these user ids or anonymous ids."""
    return any((v in users) if k == "u" else (v in anonymous) for k, v in _subjects(subjects))


def json_text(value: str) -> str:
    """`value` as it appears inside a JSON string (how a refused body may spell it)."""
    return json.dumps(value)[1:-1]


class Traces:
    """Mixed into each backend's store, which sets `ex` (and implements `delete_request_traces`)."""

    ex: Executor

    async def request_trace(self, account_id: int, request_id: str) -> RequestTrace | None:
        rows = await self.ex.all("request_parts", account_id, request_id, account_id, request_id)
        if not rows:
            return None
        # A client id used again (after dedupe's 4 hours, or on MoEngage): the newest request's entries.
        newest = max(int(r[4]) for r in rows)
        rows = [r for r in rows if int(r[4]) == newest]
        parts = [await self._part(account_id, r) for r in rows]
        events = []
        rejections = []
        for r in rows:
            log_id = int(r[0])
            lo = log_id << 16
            events += [event_of(e) for e in await self.ex.all("events_of_log", account_id, lo, lo | _EVENT_SPAN,
                                                                TRACE_EVENTS)]  # fmt: skip
            rejections += [
                rejection_of(x) for x in await self.ex.all("rejections_of_log", account_id, log_id, TRACE_REJECTIONS)
            ]
        seen: dict[tuple[str, str], None] = {}
        for r in rows:
            for pair in _subjects(r[6]):
                seen[pair] = None
        subjects = []
        for kind, value in seen:
            found = await self.ex.one("identity_user", account_id, kind, value)
            subjects.append(TraceSubject(kind, value, found is not None, None if found is None else found[0]))
        first = rows[0]
        return RequestTrace(
            request_id=request_id,
            endpoint=str(first[2]),
            received_at=min(int(r[3]) for r in rows),
            committed_at=newest,
            records=sum(int(r[5]) for r in rows),
            parts=parts,
            subjects=subjects,
            events=events[:TRACE_EVENTS],
            rejections=rejections[:TRACE_REJECTIONS],
        )

    async def _part(self, account_id: int, r: Row) -> TracePart:
        log_id, part = int(r[0]), int(r[1])
        pending_row = await self.ex.one("log_entry_pending", log_id)
        pending = bool(pending_row and int(pending_row[0]))
        processed_at = None
        dead = None
        if not pending:
            mark = await self.ex.one("processed_mark_at", part, log_id)
            processed_at = None if mark is None else int(mark[0])
            letter = await self.ex.one("dead_letter_of_log", account_id, log_id)
            dead = None if letter is None else f"{letter[0]}: {letter[1]}"
        return TracePart(log_id, part, int(r[5]), pending, processed_at, dead)

    async def request_of_event(self, account_id: int, event_id: int) -> str | None:
        row = await self.ex.one("request_of_log", account_id, event_id >> 16, account_id, event_id >> 16)
        return None if row is None else str(row[0])

    async def recent_requests(
        self, account_id: int, limit: int, accepted: bool | None, endpoint: str | None
    ) -> list[RequestSeen]:
        """The newest requests, accepted and refused (`accepted` True/False: only those), newest first."""
        where = endpoint or ""
        seen: list[RequestSeen] = []
        if accepted is not False:
            parts: set[tuple[str, int]] = set()  # the parts of one PostgreSQL request: listed once
            rows = await self.ex.all(
                "recent_accepted", account_id, where, where, limit, account_id, where, where, limit
            )
            for _, rid, ep, received, records in sorted(rows, key=lambda r: int(r[0]), reverse=True):
                if (str(rid), int(received)) in parts:
                    continue
                parts.add((str(rid), int(received)))
                seen.append(RequestSeen(int(received), str(ep), accepted_status(str(ep)), "", "", str(rid),
                                        int(records), True))  # fmt: skip
        if accepted is not True:
            for at, ep, status, message, body, rid in await self.ex.all(
                "recent_refused", account_id, where, where, limit
            ):
                seen.append(RequestSeen(int(at), str(ep), int(status), str(message), str(body), rid, 0, False))
        return sorted(seen, key=lambda s: s.at, reverse=True)[:limit]

    async def record_refusals(self, rows: Sequence[Refusal]) -> None:
        if not rows:
            return
        async with self.ex.transaction() as tx:
            for r in rows:
                await tx.run("refusal_insert", r.account_id, r.at, r.endpoint, r.status, r.message, r.body,
                             r.request_id)  # fmt: skip
            for account_id in sorted({r.account_id for r in rows}):
                await tx.run("refusals_trim", account_id, account_id, REFUSED_PER_ACCOUNT)

    async def traces_naming(self, account_id: int, users: set[str], anonymous: set[str]) -> list[int]:
        """Log ids of the account's request traces that name one of these people (GDPR erasure): a scan
        of the account's traces on a reader (at most TRACE_RETENTION_MS of them), a rare job."""
        rows = await self.ex.all("request_subjects_of_account", account_id, account_id)
        return [int(log_id) for log_id, subjects in rows if names(subjects, users, anonymous)]

    async def delete_request_traces(self, log_ids: Sequence[int]) -> None:
        raise NotImplementedError  # each backend's (SQLite: the ingest log's file)

    async def erase_traces(self, account_id: int, users: set[str], anonymous: set[str]) -> int:
        """Delete the request traces that name these people; how many (GDPR erasure, store/gdpr.py)."""
        log_ids = await self.traces_naming(account_id, users, anonymous)
        if log_ids:
            await self.delete_request_traces(log_ids)
        return len(log_ids)
