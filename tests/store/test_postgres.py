"""PostgreSQL only: cluster-safety of the store (several stores, i.e. nodes, over one database),
partitioning, migrations under concurrency, and one-line errors."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from openengage.errors import StoreUnavailable
from openengage.processor.planner import Planner
from openengage.processor.worker import Worker
from openengage.records import UserRecord
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Store
from openengage.store.migrations import available
from openengage.store.postgres.partition import PARTITIONS, partition_of
from tests.store.helpers import drain_all, event, opened, submission, user
from tests.support import backends
from tests.support.server import cli, free_port

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backends.require("postgres")
    with backends.fresh_database("postgres", tmp_path) as url:
        yield url


@pytest.fixture
def blank_pg_url(tmp_path: Path) -> Iterator[str]:
    """An empty database: no migrations applied."""
    backends.require("postgres")
    with backends.fresh_database("postgres", tmp_path, migrated=False) as url:
        yield url


async def _nodes(url: str, n: int) -> list[Store]:
    stores = [open_store(Settings.from_env({}, database_url=url, pool_min=1, pool_max=4)) for _ in range(n)]
    for store in stores:
        await store.open()
    return stores


async def _close(stores: list[Store]) -> None:
    for store in stores:
        await store.close()


async def _run_processors(stores: list[Store], account_id: int, expected: int) -> list[int]:
    """Each node's processor loop (both lanes), small batches so nodes interleave; records applied by each."""
    stop = asyncio.Event()
    workers = [Worker(s, 7) for s in stores]
    tasks = [asyncio.create_task(w.run(stop, 0.01)) for w in workers]
    for _ in range(3000):
        if (await stores[0].stats(account_id)).pending == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*tasks)
    counts = [w.applied for w in workers]
    assert sum(counts) == expected
    assert [w.dead_lettered for w in workers] == [0] * len(workers)  # contention is never a dead letter
    return counts


def test_request_records_split_into_one_entry_per_partition(pg_url: str) -> None:
    async def scenario() -> None:
        async with opened(pg_url) as store:
            acc = (await store.create_account("acme", "o@acme.test")).account_id
            users = [f"user-{i}" for i in range(25)]
            await store.append([submission(acc, [event(u, n=1) for u in users] + [event(u, n=2) for u in users])])
            with psycopg.connect(pg_url) as conn:
                rows = conn.execute("SELECT partition, n FROM entries ORDER BY id").fetchall()
            assert sorted(p for p, _ in rows) == sorted({partition_of(acc, event(u)) for u in users})
            assert sum(n for _, n in rows) == 50
            assert await drain_all(store) == 50
            for u in users:
                profile = await store.profile(acc, "u", u)
                assert profile is not None
                page = await store.events(acc, profile.id, 10, None)
                assert [e.data["n"] for e in page.items] == [2, 1]
            with psycopg.connect(pg_url) as conn:
                assert conn.execute("SELECT count(DISTINCT id) FROM events").fetchone() == (50,)
                assert conn.execute("SELECT count(*) FROM entries").fetchone() == (0,)

    asyncio.run(scenario())
    assert len({partition_of(1, user(f"u{i}")) for i in range(200)}) == PARTITIONS


def test_rate_limit_is_exact_across_nodes(pg_url: str) -> None:
    async def scenario() -> None:
        nodes = await _nodes(pg_url, 3)
        try:
            acc = (await nodes[0].create_account("acme", "o@acme.test")).account_id

            async def node_traffic(store: Store, tag: str) -> int:
                accepted = 0
                for i in range(20):  # batches of 1..4 submissions, as group commit makes them
                    batch = [submission(acc, [user(f"{tag}-{i}-{j}")], limit=50) for j in range(1 + i % 4)]
                    accepted += sum(o.status == "accepted" for o in await store.append(batch))
                return accepted

            counts = await asyncio.gather(*(node_traffic(s, f"n{k}") for k, s in enumerate(nodes)))
            assert sum(counts) == 50  # 150 offered across three nodes
            assert (await nodes[1].stats(acc)).pending == 50
        finally:
            await _close(nodes)

    asyncio.run(scenario())


def test_request_id_is_accepted_once_across_nodes(pg_url: str) -> None:
    async def scenario() -> None:
        nodes = await _nodes(pg_url, 3)
        try:
            acc = (await nodes[0].create_account("acme", "o@acme.test")).account_id

            async def node_traffic(store: Store) -> list[str]:
                outcomes = []
                for i in range(30):
                    out = await store.append([submission(acc, [event("u", n=i)], request_id=f"req-{i}")])
                    outcomes.append(out[0].status)
                return outcomes

            results = await asyncio.gather(*(node_traffic(s) for s in nodes))
            for i in range(30):
                assert sorted(r[i] for r in results) == ["accepted", "duplicate", "duplicate"]
            assert await drain_all(nodes[0]) == 30
        finally:
            await _close(nodes)

    asyncio.run(scenario())


def test_concurrent_processors_apply_each_record_once_in_user_order(pg_url: str) -> None:
    """Three processors over one log: sequential updates per user (last write wins), anonymous events
    and identifies that cross partitions (so transactions conflict on shared profiles and retry)."""

    async def scenario() -> None:
        nodes = await _nodes(pg_url, 3)
        try:
            acc = (await nodes[0].create_account("acme", "o@acme.test")).account_id
            users = 24
            for step in range(12):
                batch = []
                for u in range(users):
                    records = [user(f"u{u}", seq=step), event(f"u{u}", n=step)]
                    records.append(event(None, anonymous_id=f"anon-{u}", n=100 + step))
                    if step == 6:
                        records.append(UserRecord(user_id=f"u{u}", anonymous_id=f"anon-{u}"))
                    batch.append(submission(acc, list(records)))
                await nodes[step % 3].append(batch)
            total = users * (12 * 3 + 1)
            counts = await _run_processors(nodes, acc, total)
            assert all(c > 0 for c in counts), counts  # every node did part of the work
            store = nodes[0]
            for u in range(users):
                profile = await store.profile(acc, "u", f"u{u}")
                assert profile is not None
                assert profile.data.attributes == {"seq": 11}
                assert profile.anonymous_ids == [f"anon-{u}"]
                page = await store.events(acc, profile.id, 100, None)
                ns = sorted(e.data["n"] for e in page.items)
                assert ns == sorted(list(range(12)) + [100 + s for s in range(12)])  # each exactly once
            stats = await store.stats(acc)
            assert (stats.users, stats.anonymous_users, stats.events, stats.pending) == (users, 0, users * 24, 0)
        finally:
            await _close(nodes)

    asyncio.run(scenario())


def test_attribute_type_limit_holds_across_concurrent_processors(pg_url: str) -> None:
    async def scenario() -> None:
        nodes = await _nodes(pg_url, 3)
        try:
            acc = (await nodes[0].create_account("acme", "o@acme.test")).account_id
            await nodes[0].append([submission(acc, [user(f"u{i}", **{f"attr{i}": "x"})]) for i in range(80)])
            await _run_processors(nodes, acc, 80)
            schema = await nodes[0].schema(acc)
            assert sum(a.scope == "user" for a in schema) == 25
            page = await nodes[0].rejections(acc, 200, None, None)
            assert sum(r.reason == "type_limit" for r in page.items) == 55
        finally:
            await _close(nodes)

    asyncio.run(scenario())


def test_failed_batch_rolls_back_and_frees_the_partition(pg_url: str) -> None:
    class Unavailable(Planner):
        def plan(self, entries, state):  # type: ignore[no-untyped-def]
            raise StoreUnavailable("the database went away mid-batch")

    async def scenario() -> None:
        nodes = await _nodes(pg_url, 2)
        try:
            acc = (await nodes[0].create_account("acme", "o@acme.test")).account_id
            await nodes[0].append([submission(acc, [user("u", seq=1), event("u")])])
            with pytest.raises(StoreUnavailable, match="went away"):
                await Worker(nodes[0], 100, Unavailable()).step()
            assert (await nodes[1].stats(acc)).pending == 2
            assert await nodes[1].count_dead_letters(acc) == 0
            assert await drain_all(nodes[1]) == 2  # the other node takes the same entries
            assert await drain_all(nodes[0]) == 0
        finally:
            await _close(nodes)

    asyncio.run(scenario())


def test_concurrent_migrations_apply_once(blank_pg_url: str) -> None:
    store = open_store(Settings.from_env({}, database_url=blank_pg_url))
    assert not asyncio.run(store.check()).migrated
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            results.append(asyncio.run(open_store(Settings.from_env({}, database_url=blank_pg_url)).migrate()))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, len(available("openengage.store.postgres", "main"))]
    status = asyncio.run(store.check())
    assert status.reachable and status.migrated


def test_unreachable_database_is_one_line_error() -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    store = open_store(Settings.from_env({}, database_url=url))
    status = asyncio.run(store.check())
    assert not status.reachable and "\n" not in status.detail
    assert "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/nowhere" in status.detail
    with pytest.raises(StoreUnavailable) as info:
        asyncio.run(store.open())
    assert "\n" not in str(info.value) and "check that the server is running" in str(info.value)
    with pytest.raises(StoreUnavailable):
        asyncio.run(store.migrate())


def test_password_is_not_shown_in_errors() -> None:
    store = open_store(Settings.from_env({}, database_url="postgresql://bob:s3cret@127.0.0.1:1/db"))
    status = asyncio.run(store.check())
    assert "s3cret" not in status.detail and "bob:***@127.0.0.1:1" in status.detail


def test_missing_driver_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    with pytest.raises(StoreUnavailable, match=r"pip install 'psycopg\[binary,pool\]'"):
        open_store(Settings.from_env({}, database_url="postgresql://127.0.0.1/x"))


def test_cli_reports_store_problems_in_one_line(blank_pg_url: str) -> None:
    bad = "postgresql://postgres@127.0.0.1:1/nowhere"
    for args in (
        ("check",),
        ("migrate",),
        ("accounts", "list"),
        ("process", "--burst"),
        ("serve", "--port", str(free_port())),
    ):
        done = cli(*args, database_url=bad, check=False)
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "cannot connect to PostgreSQL" in done.stderr
    done = cli("check", database_url=blank_pg_url, check=False)
    assert done.returncode == 1 and "migrations pending" in done.stderr
    every = available("openengage.store.postgres", "main")
    assert cli("migrate", database_url=blank_pg_url).stdout.startswith(f"applied {len(every)} migrations")
    assert cli("check", database_url=blank_pg_url).stdout.strip() == "ok: store reachable and migrated"


def test_cli_without_driver_is_one_line() -> None:
    import subprocess

    code = "import sys; sys.modules['psycopg'] = None; from openengage.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "accounts", "list", "--database-url", "postgresql://127.0.0.1/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: PostgreSQL support needs the Python package 'psycopg' (psycopg 3 and its pool): "
        "pip install 'psycopg[binary,pool]'"
    ]


def test_a_claim_holds_its_partition_across_units(pg_url: str) -> None:
    """Between the units of one claim (isolating a bad entry takes several) no other node gets in."""

    async def scenario() -> None:
        nodes = await _nodes(pg_url, 2)
        try:
            acc = (await nodes[0].create_account("acme", "o@acme.test")).account_id
            await nodes[0].append([submission(acc, [event("u", n=i)]) for i in range(3)])  # one partition
            async with nodes[0].claim(100) as claim:
                assert claim is not None and len(claim.entries) == 3
                await claim.ack(1)
                async with nodes[1].claim(100) as other:
                    assert other is None  # the partition is still held
                assert len(claim.entries) == 2
            assert await drain_all(nodes[1]) == 2  # released at the end of the block
            assert (await nodes[0].stats(acc)).pending == 0
        finally:
            await _close(nodes)

    asyncio.run(scenario())


def test_a_network_that_stalls_mid_claim_is_an_outage_and_processing_recovers(pg_url: str) -> None:
    """Bytes stop in the middle of a batch (a partition: nothing errors by itself): within the claim's
    deadline the processor takes it for an outage (never a dead letter), and the same store, without
    a restart, applies everything once the network is back."""
    import time

    from tests.support.proxy import proxy_for

    class Stalling(Planner):
        def __init__(self, stall: Callable[[], None]) -> None:
            self.stall = stall

        def plan(self, entries, state):  # type: ignore[no-untyped-def]
            self.stall()  # the network goes quiet between the batch's load and its write
            return super().plan(entries, state)

    async def scenario() -> None:
        async with opened(pg_url) as direct:
            acc = (await direct.create_account("acme", "o@acme.test")).account_id
            await direct.append([submission(acc, [event("u", n=i)]) for i in range(10)])
            with proxy_for(pg_url) as proxy:
                settings = Settings.from_env({}, database_url=proxy.url(pg_url), pool_min=1, pool_max=2, store_wait=1)
                store = open_store(settings)
                await store.open()
                store.claim_timeout = 1.0  # type: ignore[attr-defined]
                try:
                    started = time.monotonic()
                    with pytest.raises(StoreUnavailable, match="did not answer"):
                        await asyncio.wait_for(Worker(store, 100, Stalling(proxy.stall)).step(), 30)
                    assert time.monotonic() - started < 15
                    assert (await direct.stats(acc)).pending == 10 and await direct.count_dead_letters(acc) == 0
                    proxy.restore()
                    worker, stop = Worker(store, 100), asyncio.Event()
                    task = asyncio.create_task(worker.run(stop, 0.02))
                    for _ in range(600):
                        if (await direct.stats(acc)).pending == 0:
                            break
                        await asyncio.sleep(0.05)
                    stop.set()
                    await task
                    assert worker.applied == 10 and worker.dead_lettered == 0
                finally:
                    await store.close()
            profile = await direct.profile(acc, "u", "u")
            assert profile is not None
            assert sorted(e.data["n"] for e in (await direct.events(acc, profile.id, 100, None)).items) == list(
                range(10)
            )

    asyncio.run(scenario())
