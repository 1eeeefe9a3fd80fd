"""One bad log entry never stops processing: it moves to the dead letters, everything else applies once.

Faults injected on both stores (the `api` fixture runs each test on SQLite and on PostgreSQL): a Planner
that raises on a marked record, a write that fails for one entry after writing part of it, values the
database cannot hold appended straight to the ingest log (past the API's checks), and a store outage in
the middle of a batch (retried, never dead-lettered).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from openengage.accounts import Credentials
from openengage.cli import main
from openengage.errors import NotFound, StoreUnavailable
from openengage.processor.planner import Planner
from openengage.processor.worker import Worker, drain
from openengage.records import EventRecord, Record, UserRecord, encode_records
from openengage.store.base import Claim, Effects, LogEntry, Needs, QueuedEntry, State, Store, Submission
from tests.support.harness import Harness

# ---------------------------------------------------------------- injected faults


class PoisonPlanner(Planner):
    """Raises on any batch holding an event named `poison`."""

    def plan(self, entries: Sequence[LogEntry], state: State) -> Effects:
        for entry in entries:
            if any(isinstance(r, EventRecord) and r.name == "poison" for r in entry.records):
                raise ValueError("poison record in the batch")
        return super().plan(entries, state)


class FaultyClaim:
    """A real claim; `before_write` may break the database first, `after_write` fail after writing."""

    def __init__(self, store: FaultyStore, claim: Claim) -> None:
        self.store, self.claim = store, claim

    @property
    def entries(self) -> Sequence[QueuedEntry]:
        return self.claim.entries

    async def load(self, needs: Needs) -> State:
        return await self.claim.load(needs)

    async def write(self, effects: Effects) -> None:
        async with self.store.before_write(self.claim):
            await self.claim.write(effects)
        problem = self.store.after_write(effects)
        if problem is not None:
            raise problem

    async def ack(self, count: int) -> None:
        self.store.acks += 1
        await self.claim.ack(count)

    async def rollback(self) -> None:
        await self.claim.rollback()

    async def dead_letter(self, error: str, message: str) -> None:
        await self.claim.dead_letter(error, message)


@contextlib.asynccontextmanager
async def nothing(claim: Claim) -> AsyncIterator[None]:
    yield


class FaultyStore:
    """The real store of a test, with its claims wrapped in FaultyClaim."""

    def __init__(
        self,
        store: Store,
        after_write: Callable[[Effects], Exception | None] = lambda fx: None,
        before_write: Callable[[Claim], contextlib.AbstractAsyncContextManager[None]] = nothing,
    ) -> None:
        self.inner, self.after_write, self.before_write = store, after_write, before_write
        self.processing_lanes = store.processing_lanes
        self.acks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextlib.asynccontextmanager
    async def claim(self, max_records: int) -> AsyncIterator[FaultyClaim | None]:
        async with self.inner.claim(max_records) as claim:
            yield None if claim is None else FaultyClaim(self, claim)


# ---------------------------------------------------------------- helpers


def second_account(api: Harness) -> Credentials:
    creds = api.call(api.store.create_account, "other", "o@other.test")
    api.refresh_auth()
    return creds


def append(api: Harness, *entries: tuple[int, list[Record]]) -> None:
    """Entries straight into the ingest log, in one commit: no API check sees them."""
    subs = [Submission(acc, "events", 0, 0, encode_records(records), len(records)) for acc, records in entries]
    api.call(api.store.append, subs)


def event(user: str, seq: int, name: str = "Seen", **data: Any) -> EventRecord:
    return EventRecord(name, user_id=user, data={"seq": seq, **data})


def seqs(api: Harness, user: str, creds: Credentials | None = None) -> list[int]:
    lc, key = (creds.license_code, creds.api_key) if creds else (None, None)
    r = api.get(f"/users/{user}/events", params={"limit": 1000}, lc=lc, key=key)
    if r.status_code == 404:
        return []
    return sorted(e["eventData"]["seq"] for e in r.json()["response"]["data"]["events"])


def letters(api: Harness, creds: Credentials | None = None) -> list[dict[str, Any]]:
    lc, key = (creds.license_code, creds.api_key) if creds else (None, None)
    r = api.get("/dead-letters", lc=lc, key=key)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["response"]["data"]["deadLetters"]
    return found


def stats(api: Harness, creds: Credentials | None = None) -> dict[str, Any]:
    lc, key = (creds.license_code, creds.api_key) if creds else (None, None)
    data: dict[str, Any] = api.get("/stats", lc=lc, key=key).json()["response"]["data"]
    return data


def cli(api: Harness, *args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--database-url", api.settings.database_url])
    assert result.exit_code == 0, result.output
    return result.output


def sqlite(api: Harness) -> bool:
    return api.settings.database_url.startswith("sqlite")


def run_until_processed(api: Harness, store: Any, account_ids: Sequence[int]) -> Worker:
    """The long-running processor loop (every lane), until nothing of these accounts is pending."""

    async def scenario() -> Worker:
        worker = Worker(store, 2000)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop, 0.01))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = [(await api.store.stats(a)).pending for a in account_ids]
            if not any(pending):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        return worker

    return api.call(scenario)


# ---------------------------------------------------------------- the Planner raises


def test_a_planner_failure_dead_letters_the_marked_entry_and_nothing_else(api: Harness) -> None:
    other = second_account(api)
    for i in range(12):
        assert api.post("/events", {"userId": f"u{i % 3}", "eventName": "Seen", "eventData": {"seq": i}}).is_success
        if i == 5:
            assert api.post("/events", {"userId": "u1", "eventName": "poison", "eventData": {"seq": 99}}).is_success
        body = {"userId": f"o{i % 2}", "eventName": "Seen", "eventData": {"seq": i}}
        assert api.post("/events", body, lc=other.license_code, key=other.api_key).is_success
    assert api.call(drain, api.store, 2000, PoisonPlanner()) == 24
    assert [seqs(api, f"u{u}") for u in range(3)] == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    assert [seqs(api, f"o{u}", other) for u in range(2)] == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]]
    [letter] = letters(api)
    assert (letter["error"], letter["message"]) == ("ValueError", "poison record in the batch")
    assert (letter["records"], letter["attempts"], letter["requeued"]) == (1, 1, False)
    assert letter["payload"][0]["name"] == "poison" and letter["payload"][0]["user_id"] == "u1"
    assert stats(api) == {"users": 3, "anonymousUsers": 0, "events": 12, "pending": 0, "deadLetters": 1}
    assert (stats(api, other)["deadLetters"], letters(api, other)) == (0, [])

    # Retried while the fault lasts: it fails again, and its dead letter says so (same id, 2 attempts).
    assert api.call(api.store.retry_dead_letters, api.creds.account_id, [letter["id"]]) == [letter["id"]]
    assert api.call(drain, api.store, 2000, PoisonPlanner()) == 0
    [again] = letters(api)
    assert (again["id"], again["attempts"], again["requeued"]) == (letter["id"], 2, False)
    # Fixed: the retry applies it once, and the dead letter is gone in the same commit.
    api.call(api.store.retry_dead_letters, api.creds.account_id, None)
    assert api.call(drain, api.store, 2000, Planner()) == 1
    assert seqs(api, "u1") == [1, 4, 7, 10, 99] and letters(api) == []
    assert stats(api)["deadLetters"] == 0 and stats(api)["events"] == 13


# ---------------------------------------------------------------- a write fails for one entry


def test_a_write_failure_dead_letters_the_entry_and_keeps_nothing_of_it(api: Harness) -> None:
    acc = api.creds.account_id
    good = [(acc, [event(f"u{i % 5}", i), UserRecord(user_id=f"u{i % 5}", attributes={"last": i})]) for i in range(40)]
    bad = (acc, [UserRecord(user_id="u3", attributes={"x": 1}), event("u3", 1000, "fail-write")])
    append(api, *good[:17], bad, *good[17:])

    def fail(fx: Effects) -> Exception | None:
        return ValueError("injected write failure") if any(e.name == "fail-write" for e in fx.events) else None

    store = FaultyStore(api.store, after_write=fail)
    assert api.call(drain, store, 2000) == 80
    for u in range(5):
        assert seqs(api, f"u{u}") == list(range(u, 40, 5))  # each exactly once, none of the bad entry
        assert api.profile(f"u{u}")["attributes"] == {"last": 35 + u}  # u3's "x" was written, then rolled back
    [letter] = letters(api)
    assert (letter["error"], letter["message"], letter["records"]) == ("ValueError", "injected write failure", 2)
    # Halving finds it in about 2·log2(batch) units, then whole units again.
    assert store.acks <= 2 * math.ceil(math.log2(41)) + 2
    assert stats(api)["deadLetters"] == 1 and stats(api)["pending"] == 0


# ---------------------------------------------------------------- values the database cannot hold


def unstorable(api: Harness) -> list[tuple[Record, str, str]]:
    """(record, error type, words of the message) for values this backend refuses."""
    huge_time = EventRecord("E", user_id="big", time_ms=2**70)
    if sqlite(api):
        return [(huge_time, "OverflowError", "too large to convert to SQLite INTEGER")]
    return [
        (huge_time, "NumericValueOutOfRange", "out of range"),
        (UserRecord(user_id="nul\x00user"), "DataError", "cannot contain NUL"),
        (EventRecord("E", user_id="u-data", data={"k": "a\x00b"}), "UntranslatableCharacter", "unsupported Unicode"),
        (UserRecord(user_id="u-name", attributes={"a\x00b": 1}), "UntranslatableCharacter", "unsupported Unicode"),
    ]


def test_values_the_store_cannot_hold_are_dead_lettered(api: Harness) -> None:
    other = second_account(api)
    acc = api.creds.account_id
    cases = unstorable(api)
    entries: list[tuple[int, list[Record]]] = []
    for i, (record, _, _) in enumerate(cases):
        entries += [(acc, [event("before", i)]), (other.account_id, [event("theirs", i)])]
        # An event of the same user in the same entry (so in the same log row on PostgreSQL too).
        assert isinstance(record, UserRecord | EventRecord) and record.user_id is not None
        entries.append((acc, [record, EventRecord("Seen", user_id=record.user_id, data={"seq": 100})]))
        entries.append((acc, [event("after", i)]))
    append(api, *entries)
    assert api.call(drain, api.store, 2000) == 3 * len(cases)
    n = list(range(len(cases)))
    assert (seqs(api, "before"), seqs(api, "after"), seqs(api, "theirs", other)) == (n, n, n)
    # An entry is applied whole or not at all: the good event next to the bad value is not there either.
    assert (stats(api)["events"], stats(api, other)["events"]) == (2 * len(cases), len(cases))
    found = sorted(letters(api), key=lambda d: d["logId"])
    assert len(found) == len(cases) and stats(api)["deadLetters"] == len(cases)
    for letter, (_, error, words) in zip(found, cases, strict=True):
        assert letter["error"].endswith(error) and words in letter["message"], letter
        assert letter["records"] == 2 and letter["payload"][1]["data"] == {"seq": 100}
    assert letters(api, other) == []

    # The CLI shows them; a retry fails the same way (attempts 2); drop removes them for good.
    listed = json.loads(cli(api, "dead-letters", "list", api.lc, "--json"))["dead_letters"]
    assert sorted(d["id"] for d in listed) == sorted(d["id"] for d in found)
    assert all(d["error"] == f["error"] for d, f in zip(sorted(listed, key=lambda d: d["logId"]), found, strict=True))
    first = str(found[0]["id"])
    assert "queued 1 dead letters again" in cli(api, "dead-letters", "retry", api.lc, first)
    assert api.call(drain, api.store, 2000) == 0
    assert {d["id"]: d["attempts"] for d in letters(api)}[found[0]["id"]] == 2
    assert json.loads(cli(api, "dead-letters", "drop", api.lc, "--all", "--json")) == {
        "dropped": sorted(d["id"] for d in found)
    }
    assert letters(api) == [] and stats(api)["deadLetters"] == 0
    assert (seqs(api, "before"), seqs(api, "after")) == (n, n)  # nothing applied twice meanwhile
    # Both are administrative actions: audited with who, what and which ids, never the records' data.
    audit = json.loads(cli(api, "audit", "list", api.lc, "--json"))
    entries = {e["action"]: e for e in audit["entries"]}
    retried, dropped = entries["dead_letters.retry"], entries["dead_letters.drop"]
    assert retried["actor"].startswith("cli:") and retried["target"] == "1 dead letter"
    assert retried["detail"] == f"ids: {first}"
    assert dropped["target"].startswith(f"{len(found)} dead letter") and "seq" not in dropped["detail"]


# ---------------------------------------------------------------- a store outage mid-batch


def break_the_store(api: Harness) -> Callable[[Claim], contextlib.AbstractAsyncContextManager[None]]:
    """A real failure of the database, once, during a write: PostgreSQL's session is terminated;
    SQLite's processing connection turns read-only. Both are outages, not the data's fault."""
    done: list[bool] = []
    store: Any = api.store

    @contextlib.asynccontextmanager
    async def before_write(claim: Claim) -> AsyncIterator[None]:
        if done:
            yield
            return
        done.append(True)
        if sqlite(api):
            await store._processing(lambda: store._conn("main").execute("PRAGMA query_only = 1"))
            try:
                yield
            finally:
                await store._processing(lambda: store._conn("main").execute("PRAGMA query_only = 0"))
            return
        pid = claim._conn.info.backend_pid  # type: ignore[attr-defined]
        async with await psycopg.AsyncConnection.connect(api.settings.database_url, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        yield

    return before_write


def test_a_store_outage_mid_batch_is_retried_not_dead_lettered(api: Harness) -> None:
    other = second_account(api)
    acc = api.creds.account_id
    append(api, *[(acc if i % 3 else other.account_id, [event(f"u{i % 4}", i)]) for i in range(30)])
    store = FaultyStore(api.store, before_write=break_the_store(api))
    with pytest.raises(StoreUnavailable):  # `drain` (tests, `process --burst`) reports an outage
        api.call(drain, store, 2000)
    worker = run_until_processed(api, store, [acc, other.account_id])  # the server's loop retries it
    assert worker.dead_lettered == 0 and letters(api) == [] and letters(api, other) == []
    mine = [i for i in range(30) if i % 3]
    for u in range(4):
        assert seqs(api, f"u{u}") == [i for i in mine if i % 4 == u]
        assert seqs(api, f"u{u}", other) == [i for i in range(30) if i % 3 == 0 and i % 4 == u]


def test_the_server_loop_dead_letters_and_goes_on(api: Harness) -> None:
    acc = api.creds.account_id
    append(api, (acc, [event("u", 1)]), (acc, [event("u", 2, "poison")]), (acc, [event("u", 3)]))
    store = FaultyStore(api.store)
    worker = Worker(store, 2000, PoisonPlanner())

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop, 0.01))
        deadline = time.monotonic() + 30
        while (await api.store.stats(acc)).pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await task

    api.call(scenario)
    assert (worker.applied, worker.dead_lettered) == (2, 1)
    assert seqs(api, "u") == [1, 3] and [d["payload"][0]["name"] for d in letters(api)] == ["poison"]


# ---------------------------------------------------------------- retry and drop


def test_a_retry_queues_one_copy_and_applies_it_once(api: Harness) -> None:
    acc = api.creds.account_id
    append(api, (acc, [event("u", 1, "poison")]))
    api.call(drain, api.store, 2000, PoisonPlanner())
    [letter] = letters(api)
    assert api.call(api.store.retry_dead_letters, acc, [letter["id"]]) == [letter["id"]]
    # Run again before the copy is applied (say, after a crash): nothing is queued twice.
    assert api.call(api.store.retry_dead_letters, acc, [letter["id"]]) == []
    assert "already queued: " + str(letter["id"]) in cli(api, "dead-letters", "retry", api.lc, str(letter["id"]))
    assert [d["requeued"] for d in letters(api)] == [True] and stats(api)["pending"] == 1
    assert api.call(drain, api.store, 2000) == 1
    assert seqs(api, "u") == [1] and letters(api) == []
    with pytest.raises(NotFound):
        api.call(api.store.retry_dead_letters, acc, [letter["id"]])


def test_dead_letters_are_scoped_to_their_account(api: Harness) -> None:
    other = second_account(api)
    append(api, (api.creds.account_id, [event("u", 1, "poison")]), (other.account_id, [event("u", 2, "poison")]))
    api.call(drain, api.store, 2000, PoisonPlanner())
    [mine], [theirs] = letters(api), letters(api, other)
    for ids in ([theirs["id"]], [mine["id"], theirs["id"]]):
        with pytest.raises(NotFound, match=str(theirs["id"])):
            api.call(api.store.retry_dead_letters, api.creds.account_id, ids)
        with pytest.raises(NotFound):
            api.call(api.store.drop_dead_letters, api.creds.account_id, ids)
    assert letters(api) == [mine] and letters(api, other) == [theirs]  # a refused call changes nothing
    assert api.get("/dead-letters", lc=other.license_code).status_code == 401  # not with this account's key
    assert api.call(api.store.drop_dead_letters, api.creds.account_id, None) == [mine["id"]]
    assert letters(api) == [] and letters(api, other) == [theirs]


def test_dead_letters_page_newest_first(api: Harness) -> None:
    acc = api.creds.account_id
    append(api, *[(acc, [event(f"u{i}", i, "poison")]) for i in range(5)])
    api.call(drain, api.store, 2000, PoisonPlanner())
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        data = api.data("/dead-letters", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert len(data["deadLetters"]) <= 2
        seen += data["deadLetters"]
        cursor = data["next"]
        if cursor is None:
            break
    ids = [d["id"] for d in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5  # the latest failure first
    assert sorted(d["payload"][0]["data"]["seq"] for d in seen) == [0, 1, 2, 3, 4]
    assert api.get("/dead-letters", params={"cursor": "nonsense"}).status_code == 400
    assert api.get("/dead-letters", params={"limit": "0"}).status_code == 400
    xml = api.get("/dead-letters", params={"format": "xml"})
    assert xml.status_code == 200 and "<deadLetters>" in xml.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("retry", "LC"), "give the ids of the dead letters"),
        (("drop", "LC"), "give the ids of the dead letters"),
        (("retry", "LC", "1", "--all"), "not both"),
        (("drop", "LC", "x"), "'x' is not a dead letter id"),
        (("retry", "LC", "²"), "'²' is not a dead letter id"),
        (("retry", "LC", "99999999999999999999"), "is not a dead letter id"),
        (("retry", "LC", "424242"), "no dead letter 424242 in this account"),
        (("drop", "LC", "7", "424242"), "no dead letter 7, 424242 in this account"),
        (("list", "~nope"), "no account with license code '~nope'"),
    ],
)
def test_cli_errors_are_one_line(api: Harness, args: tuple[str, ...], message: str) -> None:
    args = tuple(api.lc if a == "LC" else a for a in args)
    result = CliRunner().invoke(main, ["dead-letters", *args, "--database-url", api.settings.database_url])
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_metrics_count_dead_letters_applied_records_and_rejections(api: Harness) -> None:
    from tests.api.test_operations import scrape, value

    before = scrape(api)
    acc = api.creds.account_id
    bad_name = UserRecord(user_id="u", attributes={"we_reserved": 1, "ok": 1})
    append(api, (acc, [event("u", 1), bad_name]), (acc, [event("u", 2, "poison")]), (acc, [event("u", 3)]))
    assert api.call(drain, api.store, 2000, PoisonPlanner()) == 3
    after = scrape(api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("openengage_dead_letters_total") == 1
    assert grew("openengage_processed_records_total") == 3
    assert grew("openengage_rejections_total", reason="reserved_prefix") == 1
