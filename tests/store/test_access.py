"""store/access.py on both backends: what every node must agree on (secret, links, sessions, key use)."""

from __future__ import annotations

import asyncio

from openengage.rules.dates import now_ms
from openengage.store.base import Store
from tests.store.helpers import opened

DAY = 24 * 3600 * 1000


async def _account(store: Store) -> tuple[int, int]:
    creds = await store.create_account("acme", "owner@acme.test")
    member = await store.member(creds.account_id, "owner@acme.test")
    assert member is not None
    return creds.account_id, member.id


def test_every_node_gets_the_same_secret(database_url: str) -> None:
    async def main() -> None:
        async with opened(database_url) as one, opened(database_url) as two:
            first, second = await asyncio.gather(one.dashboard_secret(), two.dashboard_secret())
            assert first == second and len(first) == 32
            assert await one.dashboard_secret() == first

    asyncio.run(main())


def test_a_link_is_used_once_even_by_two_nodes_at_once(database_url: str) -> None:
    async def main() -> None:
        async with opened(database_url) as one, opened(database_url) as two:
            account_id, member_id = await _account(one)
            await one.create_login_link(account_id, "owner@acme.test", "h" * 64, now_ms() + DAY)
            results = await asyncio.gather(*(s.use_login_link("h" * 64, now_ms()) for s in (one, two, one, two)))
            assert sorted(results, key=lambda r: r is None) == [(member_id, "owner@acme.test"), None, None, None]

    asyncio.run(main())


def test_sessions_start_end_and_rotate(database_url: str) -> None:
    async def main() -> None:
        async with opened(database_url) as store:
            _, member_id = await _account(store)
            now = now_ms()
            await store.start_session("a" * 64, "owner@acme.test", [member_id], now + DAY)
            found = await store.session("a" * 64, now)
            assert found is not None and [m.member.id for m in found.memberships] == [member_id]
            assert found.memberships[0].license_code.startswith("~")
            await store.start_session("b" * 64, "owner@acme.test", [member_id], now + DAY, replaces="a" * 64)
            assert await store.session("a" * 64, now) is None
            assert await store.session("b" * 64, now + DAY) is None  # expired
            await store.end_session("b" * 64)
            assert await store.session("b" * 64, now) is None

    asyncio.run(main())


def test_key_use_keeps_the_latest_time(database_url: str) -> None:
    from openengage.accounts import hash_key

    async def main() -> None:
        async with opened(database_url) as store:
            creds = await store.create_account("acme", "owner@acme.test")
            digest = hash_key(creds.api_key)
            await store.note_key_use({digest: 2_000})
            await store.note_key_use({digest: 1_000, "unknown": 5})  # a slower node's older flush
            assert [k.last_used_at for k in await store.list_keys(creds.account_id)] == [2_000]

    asyncio.run(main())


def test_failures_are_counted_per_subject_in_a_window(database_url: str) -> None:
    async def main() -> None:
        async with opened(database_url) as store:
            now = now_ms()
            await store.record_sign_in_failure(["email:a", "client:1"], now - 60_000)
            await store.record_sign_in_failure(["email:a"], now)
            counts = await store.sign_in_failures(["email:a", "client:1", "email:b"], now - 30_000)
            assert counts == {"email:a": 1, "client:1": 0, "email:b": 0}
            assert (await store.sign_in_failures(["email:a"], now - 120_000)) == {"email:a": 2}
            await store.clear_sign_in_failures("email:a")
            assert (await store.sign_in_failures(["email:a"], 0)) == {"email:a": 0}

    asyncio.run(main())
