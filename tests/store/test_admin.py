"""Administration written once over each backend's Executor: permissions, team rules, audit, transactions.

Every test runs on SQLite and PostgreSQL through the Store interface (plus `store.ex`, the executor both
backends provide, for the transaction tests).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from openengage import accounts as acc
from openengage.accounts import Actor
from openengage.errors import Conflict, NotFound, PermissionDenied
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Executor, Store
from openengage.store.sql import load_queries

pytestmark = pytest.mark.anyio

ALL = frozenset(acc.PERMISSIONS)
FALSE = {"sqlite": "0", "postgr": "false"}


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = open_store(Settings.from_env({}, database_url=database_url))
    await s.migrate()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def executor(store: Store) -> Executor:
    ex: Executor = getattr(store, "ex")  # noqa: B009 - not part of the Store protocol: the backends' seam
    return ex


def raw_sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on the store's database directly (what a test needs the API cannot do)."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            with conn:
                return conn.execute(statement).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True) as pg:
        cur = pg.execute(statement.encode())
        return cur.fetchall() if cur.description else []


def by(email: str) -> Actor:
    return Actor.for_member(email, "192.0.2.7")


async def team(store: Store, account_id: int) -> dict[str, acc.Member]:
    return {m.email: m for m in await store.list_members(account_id)}


# ---------------------------------------------------------------- permissions and roles


async def test_presets_and_the_owner(store: Store) -> None:
    creds = await store.create_account("acme", "owner@acme.test")
    a = creds.account_id
    await store.add_member(a, "mgr@acme.test", "manager", acc.role_permissions("manager"))
    await store.add_member(a, "c@acme.test", "custom", acc.role_permissions("custom", [acc.VIEW_PROFILES]))
    members = await team(store, a)
    assert members["owner@acme.test"].owner and members["owner@acme.test"].permissions == ALL
    assert members["owner@acme.test"].role == "admin"
    assert members["mgr@acme.test"].permissions == ALL - {acc.ACCOUNT_MANAGEMENT}
    assert not members["mgr@acme.test"].owner
    assert members["c@acme.test"].permissions == {acc.VIEW_PROFILES}
    assert await store.member(a, "c@acme.test") == members["c@acme.test"]
    assert await store.member(a, "nobody@acme.test") is None


async def test_a_role_must_match_its_permissions(store: Store) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    with pytest.raises(ValueError, match="holds exactly"):
        await store.add_member(a, "x@acme.test", "manager", ALL)
    with pytest.raises(ValueError, match="unknown permission"):
        await store.add_member(a, "x@acme.test", "custom", frozenset({"root"}))
    with pytest.raises(ValueError, match="not an email address"):
        await store.add_member(a, "notanemail", "admin", ALL)
    with pytest.raises(ValueError, match="not an email address"):
        await store.create_account("acme", "nobody")
    assert set(await team(store, a)) == {"owner@acme.test"}


@pytest.mark.parametrize(
    ("missing", "attempt"),
    [
        (acc.UPDATE_SETTINGS, lambda s, a, who: s.set_limits(a, {"events": 1}, actor=who)),
        (acc.UPDATE_INTEGRATIONS, lambda s, a, who: s.rotate_data_api_key(a, actor=who)),
        (acc.ACCOUNT_MANAGEMENT, lambda s, a, who: s.add_member(a, "n@x.test", "custom", frozenset(), actor=who)),
        (acc.ACCOUNT_MANAGEMENT, lambda s, a, who: s.set_role(a, "t@x.test", "custom", frozenset(), actor=who)),
        (acc.ACCOUNT_MANAGEMENT, lambda s, a, who: s.remove_member(a, "t@x.test", actor=who)),
        (acc.UPDATE_INTEGRATIONS, lambda s, a, who: s.issue_key(a, "actor@x.test", actor=who)),
        (acc.ACCOUNT_MANAGEMENT, lambda s, a, who: s.issue_key(a, "t@x.test", actor=who)),  # someone else's
        (acc.UPDATE_DATA, lambda s, a, who: s.revoke_key(a, "t@x.test", actor=who)),
    ],
)
async def test_each_action_needs_its_permission(store: Store, missing: str, attempt: Any) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    await store.add_member(a, "t@x.test", "custom", frozenset())
    await store.add_member(a, "actor@x.test", "custom", ALL - {missing})
    version = await store.config_version()
    with pytest.raises(PermissionDenied, match=acc.PERMISSION_LABELS[missing]):
        await attempt(store, a, by("actor@x.test"))
    assert await store.config_version() == version  # nothing changed
    # with every permission the same action goes through
    await store.set_role(a, "actor@x.test", "admin", ALL)
    await attempt(store, a, by("actor@x.test"))


async def test_nobody_grants_what_they_do_not_hold(store: Store) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    await store.add_member(a, "hr@x.test", "custom", frozenset({acc.ACCOUNT_MANAGEMENT, acc.VIEW_DASHBOARD}))
    with pytest.raises(PermissionDenied, match="cannot grant"):
        await store.add_member(a, "boss@x.test", "admin", ALL, actor=by("hr@x.test"))
    with pytest.raises(PermissionDenied, match="cannot grant"):
        await store.set_role(a, "hr@x.test", "admin", ALL, actor=by("hr@x.test"))  # not even to themselves
    member, _ = await store.add_member(
        a, "viewer@x.test", "custom", frozenset({acc.VIEW_DASHBOARD}), actor=by("hr@x.test")
    )
    assert member.permissions == {acc.VIEW_DASHBOARD}


async def test_the_owner_and_the_last_admin_stay(store: Store, database_url: str) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    await store.add_member(a, "admin2@x.test", "admin", ALL)
    with pytest.raises(PermissionDenied, match="owns the account"):
        await store.remove_member(a, "owner@acme.test", actor=by("admin2@x.test"))
    with pytest.raises(PermissionDenied, match="owns the account"):
        await store.set_role(a, "owner@acme.test", "manager", acc.role_permissions("manager"))
    await store.set_role(a, "admin2@x.test", "manager", acc.role_permissions("manager"))  # others may go
    assert (await team(store, a))["owner@acme.test"].role == "admin"
    # an account without an owner (removed before owners were kept) still keeps its last admin
    raw_sql(database_url, f"UPDATE members SET owner = {FALSE[database_url[:6]]}")
    with pytest.raises(PermissionDenied, match="last admin"):
        await store.remove_member(a, "owner@acme.test", actor=by("owner@acme.test"))
    with pytest.raises(PermissionDenied, match="last admin"):
        await store.set_role(
            a, "owner@acme.test", "manager", acc.role_permissions("manager"), actor=by("owner@acme.test")
        )


async def test_removing_the_last_two_admins_at_once_leaves_one(store: Store, database_url: str) -> None:
    """The account row is locked first (FOR UPDATE on PostgreSQL, serial writers on SQLite)."""
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    await store.add_member(a, "b@x.test", "admin", ALL)
    await store.add_member(a, "hr@x.test", "custom", frozenset({acc.ACCOUNT_MANAGEMENT}))
    raw_sql(database_url, f"UPDATE members SET owner = {FALSE[database_url[:6]]}")
    other = open_store(Settings.from_env({}, database_url=database_url))  # a second node
    await other.open()
    try:
        results = await asyncio.gather(
            store.remove_member(a, "b@x.test", actor=by("hr@x.test")),
            other.remove_member(a, "owner@acme.test", actor=by("hr@x.test")),
            return_exceptions=True,
        )
    finally:
        await other.close()
    assert sum(r is None for r in results) == 1
    assert [type(r) for r in results if r is not None] == [PermissionDenied]
    assert [m.role for m in await store.list_members(a)].count("admin") == 1


async def test_revoking_twice_is_a_conflict_and_the_owner_acts_by_default(store: Store, database_url: str) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    await store.add_member(a, "m@x.test", "admin", ALL)
    await store.revoke_key(a, "m@x.test", actor=Actor("cli:alice"))  # no member named: the owner acts
    with pytest.raises(Conflict, match="already revoked"):
        await store.revoke_key(a, "m@x.test", actor=Actor("cli:alice"))
    keys = await store.list_keys(a)
    assert [k.revoked_reason for k in keys if k.member == "m@x.test"] == ["revoked by cli:alice"]
    with pytest.raises(NotFound, match=r"no team member 'ghost@x\.test'"):
        await store.issue_key(a, "m@x.test", actor=by("ghost@x.test"))
    raw_sql(database_url, f"UPDATE members SET owner = {FALSE[database_url[:6]]}")
    with pytest.raises(NotFound, match="no owner"):
        await store.issue_key(a, "m@x.test", actor=Actor("cli:alice"))
    await store.issue_key(a, "m@x.test", actor=by("m@x.test"))  # naming the member works


# ---------------------------------------------------------------- audit


async def test_every_change_is_audited_newest_first(store: Store) -> None:
    creds = await store.create_account("acme", "owner@acme.test", actor=Actor("cli:alice"))
    a = creds.account_id
    await store.set_limits(a, {"events": 10, "users": 0}, actor=by("owner@acme.test"))
    await store.rotate_data_api_key(a)
    await store.add_member(a, "m@x.test", "manager", acc.role_permissions("manager"), actor=Actor("cli:alice"))
    await store.set_role(a, "m@x.test", "custom", frozenset({acc.VIEW_DASHBOARD}), actor=by("owner@acme.test"))
    await store.issue_key(a, "m@x.test", actor=by("owner@acme.test"))
    await store.revoke_key(a, "m@x.test", actor=by("owner@acme.test"))
    await store.remove_member(a, "m@x.test", actor=by("owner@acme.test"))
    entries = (await store.audit(a, 100, None)).items
    assert [(e.action, e.target, e.actor, e.address) for e in entries] == [
        ("member.remove", "m@x.test", "owner@acme.test", "192.0.2.7"),
        ("key.revoke", "m@x.test", "owner@acme.test", "192.0.2.7"),
        ("key.issue", "m@x.test", "owner@acme.test", "192.0.2.7"),
        ("member.set_role", "m@x.test", "owner@acme.test", "192.0.2.7"),
        ("member.add", "m@x.test", "cli:alice", "local"),
        ("account.rotate_data_key", creds.license_code, "system", "local"),
        ("account.set_limits", creds.license_code, "owner@acme.test", "192.0.2.7"),
        ("account.create", creds.license_code, "cli:alice", "local"),
    ]
    details = {e.action: e.detail for e in entries}
    assert details["account.set_limits"] == "events=10, users=0"
    assert details["member.set_role"] == "role: manager -> custom; permissions: view_dashboard"
    assert details["account.create"] == "name: acme; owner: owner@acme.test"
    assert all(e.account_id == a for e in entries)
    assert entries == sorted(entries, key=lambda e: (e.at, e.id), reverse=True)


async def test_audit_pages_and_accounts_are_separate(store: Store) -> None:
    one = (await store.create_account("one", "o@one.test")).account_id
    two = (await store.create_account("two", "o@two.test")).account_id
    for i in range(5):
        await store.add_member(one, f"m{i}@one.test", "custom", frozenset())
    first = await store.audit(one, 4, None)
    assert [e.target for e in first.items] == ["m4@one.test", "m3@one.test", "m2@one.test", "m1@one.test"]
    assert first.next is not None
    rest = await store.audit(one, 4, first.next)
    assert [e.action for e in rest.items] == ["member.add", "account.create"] and rest.next is None
    assert [e.action for e in (await store.audit(two, 10, None)).items] == ["account.create"]


async def test_a_refused_change_changes_nothing_and_is_not_audited(store: Store) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    await store.add_member(a, "m@x.test", "custom", frozenset())
    before = (await store.audit(a, 100, None)).items
    version = await store.config_version()
    with pytest.raises(Conflict):
        await store.add_member(a, "m@x.test", "admin", ALL)
    with pytest.raises(PermissionDenied):
        await store.remove_member(a, "owner@acme.test")
    assert (await store.audit(a, 100, None)).items == before
    assert await store.config_version() == version
    assert (await team(store, a))["m@x.test"].role == "custom"


async def test_the_audit_log_holds_no_secret(store: Store, database_url: str) -> None:
    creds = await store.create_account("acme", "owner@acme.test")
    a = creds.account_id
    _, member_key = await store.add_member(a, "m@x.test", "admin", ALL)
    issued = await store.issue_key(a, "m@x.test")
    data_key = await store.rotate_data_api_key(a)
    await store.revoke_key(a, "m@x.test")
    rows = raw_sql(database_url, "SELECT * FROM audit_log")
    assert len(rows) == 5
    dump = repr(rows)
    for secret in (creds.api_key, creds.data_api_key, member_key, issued, data_key):
        assert secret not in dump and acc.hash_key(secret) not in dump


# ---------------------------------------------------------------- the executor


async def test_transactions_that_lock_the_account_never_lose_an_update(store: Store) -> None:
    """Read-modify-write in 10 concurrent transactions: each sees the one before (SQLite: one writer
    thread, an asyncio lock; PostgreSQL: the row lock of `account_lock`)."""
    a = (await store.create_account("acme", "owner@acme.test", {"users": 0})).account_id
    ex = executor(store)

    async def bump() -> None:
        async with ex.transaction() as tx:
            await tx.one("account_lock", a)
            limits = dict(await tx.all("limits_of", a))
            await asyncio.sleep(0.01)  # others run meanwhile
            await tx.run("limit_put", a, "users", limits["users"] + 1)

    await asyncio.gather(*(bump() for _ in range(10)))
    assert dict(await ex.all("limits_of", a))["users"] == 10


async def test_a_failed_transaction_rolls_back_and_the_next_one_works(store: Store) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    ex = executor(store)
    with pytest.raises(RuntimeError):
        async with ex.transaction() as tx:
            assert await tx.run("limit_put", a, "events", 7) == 1
            assert dict(await tx.all("limits_of", a)) == {"events": 7}  # its own write
            raise RuntimeError("boom")
    assert await ex.all("limits_of", a) == []
    async with ex.transaction() as tx:
        await tx.run("limit_put", a, "events", 8)
    assert dict(await ex.all("limits_of", a)) == {"events": 8}


async def test_a_cancelled_transaction_rolls_back(store: Store) -> None:
    a = (await store.create_account("acme", "owner@acme.test")).account_id
    ex = executor(store)
    written = asyncio.Event()

    async def slow() -> None:
        async with ex.transaction() as tx:
            await tx.run("limit_put", a, "events", 7)
            written.set()
            await asyncio.sleep(30)

    task = asyncio.ensure_future(slow())
    await written.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await ex.all("limits_of", a) == []
    await store.set_limits(a, {"events": 9})  # the writer is free again
    assert dict(await ex.all("limits_of", a)) == {"events": 9}


async def test_admin_transactions_run_alongside_processing(store: Store) -> None:
    """On SQLite the executor's writer is not the processor's: both make progress in one process."""
    from openengage.processor.worker import Worker
    from openengage.records import UserRecord, encode_records
    from openengage.store.base import Submission

    a = (await store.create_account("acme", "owner@acme.test")).account_id
    records = [UserRecord(user_id=f"u{i}") for i in range(50)]
    await store.append([Submission(a, "users", 1, 0, encode_records([r]), 1) for r in records])

    async def process() -> int:
        return await Worker(store, 5).drain()

    async def administer() -> None:
        for i in range(10):
            await store.add_member(a, f"m{i}@x.test", "custom", frozenset())

    processed, _ = await asyncio.gather(process(), administer())
    assert processed == 50
    assert len(await store.list_members(a)) == 11
    assert (await store.stats(a)).users == 50


def test_both_backends_define_every_shared_query_alike() -> None:
    """store/admin.py, store/reads.py and store/dead_letters.py name queries that each backend's queries.sql
    must define, with as many parameters (the executor passes them positionally)."""
    import ast
    import inspect

    from openengage.store import access, admin, browse, dead_letters, messaging, reads, traces

    names: set[str] = set()
    for module in (admin, reads, dead_letters, access, browse, messaging, traces):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("one", "all", "run")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
    assert len(names) > 25
    sqlite_q, pg_q = load_queries("openengage.store.sqlite"), load_queries("openengage.store.postgres")
    assert names - set(sqlite_q) == set() and names - set(pg_q) == set()
    assert {n: sqlite_q[n].count("?") for n in names} == {n: pg_q[n].count("%s") for n in names}


def test_the_migration_moves_existing_members(unmigrated_database_url: str, backend: str) -> None:
    """Members from before #8: admins get all seven permissions, managers all but account_management,
    custom roles keep theirs; the owner is the first admin created with the account."""
    from yoyo import get_backend, read_migrations

    from openengage.store import migrations
    from openengage.store.postgres.connection import yoyo_url

    url = unmigrated_database_url
    package = f"openengage.store.{backend}"
    with migrations._migrations_dir(package, "main") as directory:
        backend_ = get_backend(url if backend == "sqlite" else yoyo_url(url))
        try:
            with backend_.lock():
                every = read_migrations(directory)
                ours = next(m.id for m in every if m.id.endswith("_permissions_owner_audit"))
                backend_.apply_migrations(backend_.to_apply(every.filter(lambda m: m.id < ours)))
        finally:
            backend_.connection.close()
    old_admin, old_manager = '\'["account_management","update_data"]\'', "'[\"update_data\"]'"
    raw_sql(url, "INSERT INTO accounts (id, name, license_code, app_id, created_at) VALUES "
                 "(1, 'a', '~1', 'A1', 100), (2, 'b', '~2', 'A2', 100), (3, 'c', '~3', 'A3', 100)")  # fmt: skip
    raw_sql(
        url,
        "INSERT INTO members (id, account_id, email, role, permissions, created_at) VALUES "
        f"(1, 1, 'owner@a', 'admin', {old_admin}, 100), (2, 1, 'mgr@a', 'manager', {old_manager}, 200), "
        "(3, 1, 'c@a', 'custom', '[\"account_management\",\"update_data\"]', 300), "
        f"(4, 1, 'admin2@a', 'admin', {old_admin}, 400), "
        f"(5, 2, 'later@b', 'admin', {old_admin}, 500), "  # b's owner was removed
        f"(6, 3, 'demoted@c', 'manager', {old_manager}, 100), (7, 3, 'admin@c', 'admin', {old_admin}, 300)",
    )

    async def scenario() -> None:
        store = open_store(Settings.from_env({}, database_url=url))
        await store.migrate()
        await store.open()
        try:
            a = await team(store, 1)
            assert {e: (m.permissions, m.owner) for e, m in a.items()} == {
                "owner@a": (ALL, True),
                "mgr@a": (ALL - {acc.ACCOUNT_MANAGEMENT}, False),
                "c@a": ({acc.ACCOUNT_MANAGEMENT, acc.UPDATE_DATA}, False),
                "admin2@a": (ALL, False),
            }
            assert not any(m.owner for m in (await team(store, 2)).values())
            assert not any(m.owner for m in (await team(store, 3)).values())
            assert (await store.audit(1, 10, None)).items == []
        finally:
            await store.close()

    asyncio.run(scenario())
