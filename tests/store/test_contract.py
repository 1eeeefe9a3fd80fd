"""The Store contract, run against every backend through the Store interface only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openengage import accounts as acc
from openengage.processor.planner import Planner
from openengage.processor.worker import drain
from openengage.records import EventRecord, UserRecord, encode_records
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import LogEntry, State, Store, Submission
from tests.store.helpers import process_once

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = open_store(Settings.from_env({}, database_url=database_url))
    await s.migrate()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def submission(account_id: int, *records: Any, rid: str | None = None, limit: int = 0) -> Submission:
    return Submission(account_id, "events", 1, limit, encode_records(list(records)), len(records), rid)


async def test_migrate_is_idempotent_and_check_reports_it(store: Store) -> None:
    assert await store.migrate() == []
    status = await store.check()
    assert status.reachable and status.migrated and status.pending_migrations == []


async def test_unmigrated_store_is_reported(unmigrated_database_url: str) -> None:
    s = open_store(Settings.from_env({}, database_url=unmigrated_database_url))
    try:
        status = await s.check()
        assert not status.migrated
    finally:
        await s.close()


async def test_accounts_and_config_version(store: Store) -> None:
    v0 = await store.config_version()
    creds = await store.create_account("acme", "owner@acme.test", {"events": 7})
    assert await store.config_version() > v0
    account = await store.account_by_license(creds.license_code)
    assert account is not None and account.limit("events") == 7 and account.limit("users") == 5000
    assert (await store.account_by_app_id(creds.app_id)) == account
    assert account.data_api_key_hash == acc.hash_key(creds.data_api_key)
    assert await store.account_by_license("~missing") is None
    principal = await store.principal(acc.hash_key(creds.api_key))
    assert principal is not None and principal.account_id == creds.account_id
    assert acc.can_authenticate_rest(principal.permissions)
    v1 = await store.config_version()
    await store.set_limits(creds.account_id, {"events": 0})
    assert await store.config_version() > v1
    assert [a.license_code for a in await store.list_accounts()] == [creds.license_code]


async def test_revoked_keys_have_no_principal(store: Store) -> None:
    creds = await store.create_account("acme", "owner@acme.test")
    _, key = await store.add_member(creds.account_id, "m@x.test", "admin", acc.role_permissions("admin"))
    assert await store.principal(acc.hash_key(key)) is not None
    await store.revoke_key(creds.account_id, "m@x.test", actor=acc.Actor.for_member("owner@acme.test"))
    assert await store.principal(acc.hash_key(key)) is None
    members = {m.email: m for m in await store.list_members(creds.account_id)}
    assert not members["m@x.test"].has_key and members["owner@acme.test"].has_key


@pytest.mark.usefixtures("steady_rate_window")
async def test_append_dedupes_and_limits_atomically(store: Store) -> None:
    creds = await store.create_account("acme", "o@x.test")
    a = creds.account_id
    ev = EventRecord("E", user_id="u")
    batch = [submission(a, ev, rid="r1", limit=3), submission(a, ev, rid="r1", limit=3), submission(a, ev, limit=3)]
    assert [o.status for o in await store.append(batch)] == ["accepted", "duplicate", "accepted"]
    outcomes = await store.append(
        [submission(a, ev, limit=3), submission(a, ev, limit=3), submission(a, ev, rid="r1", limit=3)]
    )
    assert [o.status for o in outcomes] == ["accepted", "limited", "duplicate"]
    assert (await store.stats(a)).pending == 3


async def test_process_is_exactly_once_and_in_order(store: Store) -> None:
    creds = await store.create_account("acme", "o@x.test")
    a = creds.account_id
    await store.append([submission(a, UserRecord(user_id="u", attributes={"v": i})) for i in range(10)])
    await store.append([submission(a, EventRecord("E", user_id="u"), EventRecord("F", user_id="u"))])
    assert await process_once(store, 4) >= 1
    while await process_once(store, 4) > 0:
        pass
    assert await process_once(store, 100) == 0
    stats = await store.stats(a)
    assert (stats.users, stats.events, stats.pending) == (1, 2, 0)
    profile = await store.profile(a, "u", "u")
    assert profile is not None and profile.data.attributes == {"v": 9}  # the last write wins
    page = await store.events(a, profile.id, 10, None)
    assert [e.name for e in page.items] == ["F", "E"]


class ExplodingPlanner(Planner):
    def plan(self, entries: Any, state: State) -> Any:
        raise RuntimeError("boom")


async def test_a_failed_entry_changes_nothing_but_the_dead_letters(store: Store) -> None:
    creds = await store.create_account("acme", "o@x.test")
    a = creds.account_id
    await store.append([submission(a, UserRecord(user_id="u"))])
    assert await drain(store, 100, ExplodingPlanner()) == 0
    stats = await store.stats(a)
    assert (stats.users, stats.pending) == (0, 0)
    [letter] = (await store.dead_letters(a, 10, None)).items
    assert (letter.error, letter.message, letter.records) == ("RuntimeError", "boom", 1)
    assert await store.retry_dead_letters(a, [letter.id]) == [letter.id]
    assert await drain(store, 100) == 1
    assert (await store.stats(a)).users == 1
    assert await store.count_dead_letters(a) == 0


async def test_reads_are_scoped_to_their_account(store: Store) -> None:
    one = await store.create_account("one", "o@x.test")
    two = await store.create_account("two", "t@x.test")
    await store.append([submission(one.account_id, UserRecord(user_id="shared", attributes={"a": 1}))])
    await store.append([submission(two.account_id, EventRecord("E", user_id="shared"))])
    await drain(store, 100)
    p1 = await store.profile(one.account_id, "u", "shared")
    p2 = await store.profile(two.account_id, "u", "shared")
    assert p1 is not None and p2 is not None and p1.id != p2.id
    assert (await store.events(one.account_id, p1.id, 10, None)).items == []
    assert (await store.events(one.account_id, p2.id, 10, None)).items == []  # not one's profile
    assert [a for a in await store.schema(two.account_id) if a.scope == "user"] == []
    assert (await store.stats(one.account_id)).events == 0


async def test_entries_keep_their_ids_after_maintenance(store: Store) -> None:
    """Pruning applied entries never lets a later entry reuse an id (event ids derive from them)."""
    creds = await store.create_account("acme", "o@x.test")
    a = creds.account_id
    await store.append([submission(a, EventRecord("E", user_id="u"))])
    await drain(store, 100)
    from openengage.rules.dates import now_ms

    await store.maintain(now_ms())
    await store.append([submission(a, EventRecord("E", user_id="u"))])
    await drain(store, 100)
    profile = await store.profile(a, "u", "u")
    assert profile is not None
    assert len((await store.events(a, profile.id, 10, None)).items) == 2


def test_log_entry_is_plain_data() -> None:
    entry = LogEntry(1, 2, 3, [])
    assert entry.records == []
