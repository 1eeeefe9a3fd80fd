"""GDPR requests and business events in the store, written once over each backend's Executor (#10): the
named queries both backends define alike, erasures and limits held across several stores at once (two
nodes over one database), restrictions loaded with the processing State."""

from __future__ import annotations

import ast
import asyncio
import inspect
from collections.abc import AsyncIterator

import pytest

from openengage.errors import Conflict, NotFound
from openengage.processor import eraser
from openengage.rules import gdpr
from openengage.rules.dates import now_ms
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Charge, Limited, Store
from openengage.store.sql import load_queries
from tests.store.helpers import drain_all, event, submission, user
from tests.support.windows import inside_one_window

pytestmark = pytest.mark.anyio

FREE = Charge("gdpr", 0)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database: what two nodes (or a node and the CLI) are."""
    opened: list[Store] = []
    try:
        for _ in range(2):
            s = open_store(Settings.from_env({}, database_url=database_url))
            await s.migrate()
            await s.open()
            opened.append(s)
        yield opened[0], opened[1]
    finally:
        for s in opened:
            await s.close()


def test_both_backends_define_every_query_alike() -> None:
    from openengage.store import business, limits
    from openengage.store import gdpr as store_gdpr

    names: set[str] = {"restrictions_in"}  # processing (per backend), same parameters
    for module in (store_gdpr, business, limits):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("one", "all", "run")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
    assert len(names) > 30
    sqlite_q, pg_q = load_queries("openengage.store.sqlite"), load_queries("openengage.store.postgres")
    assert names - set(sqlite_q) == set() and names - set(pg_q) == set()
    assert {n: sqlite_q[n].count("?") for n in names} == {n: pg_q[n].count("%s") for n in names}


async def test_two_nodes_erase_each_due_request_once(stores: tuple[Store, Store]) -> None:
    a, b = stores
    account = (await a.create_account("acme", "owner@acme.test")).account_id
    users = [f"u{i}" for i in range(12)]
    await a.append([submission(account, [user(u), event(u)]) for u in users])
    await drain_all(a)
    now = now_ms()
    for u in users:
        await a.gdpr_register(account, f"req-{u}", gdpr.ERASURE, u, now, now - gdpr.DAY_MS, FREE)
    later = now + gdpr.GRACE_MS
    first, second = await asyncio.gather(eraser.once(a, later), eraser.once(b, later))
    erased = sorted(e.request_id for e in [*first, *second])
    assert erased == sorted(f"req-{u}" for u in users)  # every one, each once
    assert await eraser.once(a, later) == [] and await eraser.once(b, later) == []
    audit = (await a.audit(account, 100, None)).items
    assert sorted(e.target for e in audit if e.action == gdpr.AUDIT_ERASE) == erased
    stats = await a.stats(account)
    assert (stats.users, stats.events) == (0, 0)
    for u in users:
        assert await b.profile(account, "u", u) is None
        request, _ = await b.gdpr_request(account, f"req-{u}", FREE)
        assert (request.status, request.user_id) == (gdpr.DONE, None)


async def test_a_limit_holds_across_nodes(stores: tuple[Store, Store]) -> None:
    a, b = stores
    account = (await a.create_account("acme", "owner@acme.test")).account_id
    await a.append([submission(account, [user("x")])])
    await drain_all(a)
    await a.gdpr_register(account, "r", gdpr.RESTRICTION, "x", now_ms(), None, FREE)
    charge = Charge("gdpr", 5)

    async def call(store: Store) -> bool:
        try:
            await store.gdpr_request(account, "r", charge)
        except Limited:
            return False
        return True

    inside_one_window()  # per-minute windows: 20 calls across a minute's end would admit 5 + 5
    results = await asyncio.gather(*(call(s) for s in [a, b] * 10))
    assert results.count(True) == 5


async def test_registering_refusals_change_nothing(stores: tuple[Store, Store]) -> None:
    a, _ = stores
    account = (await a.create_account("acme", "owner@acme.test")).account_id
    await a.append([submission(account, [user("x")])])
    await drain_all(a)
    with pytest.raises(NotFound):
        await a.gdpr_register(account, "r1", gdpr.RESTRICTION, "nobody", now_ms(), None, FREE)
    await a.gdpr_register(account, "r1", gdpr.RESTRICTION, "x", now_ms(), None, FREE)
    with pytest.raises(Conflict):
        await a.gdpr_register(account, "r1", gdpr.RE_ENABLE, "x", now_ms(), None, FREE)  # re-enable not applied
    # The restriction is loaded with the State of a batch that names the user, and applied.
    await a.append([submission(account, [user("x", plan="gold"), event("x")])])
    await drain_all(a)
    profile = await a.profile(account, "u", "x")
    assert profile is not None and profile.data.attributes == {}
    assert [r.reason for r in (await a.rejections(account, 10, None, "x")).items] == ["restricted", "restricted"]
    # Other accounts' requests are theirs: same request id, no conflict; unknown ids are not found.
    other = (await a.create_account("other", "owner@other.test")).account_id
    with pytest.raises(NotFound):
        await a.gdpr_request(other, "r1", FREE)
