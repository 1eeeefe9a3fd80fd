"""More of the Store contract, on every backend: admission, exactly-once processing in order, schema limits, admin."""

from __future__ import annotations

import pytest

from openengage.records import UserRecord
from openengage.store.base import Store
from tests.store.helpers import drain_all, event, process_once, run, submission, user


@pytest.mark.usefixtures("steady_rate_window")
def test_rate_limit_admits_exactly_the_limit_within_a_window(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        creds = await store.create_account("acme", "o@acme.test")
        batch = [submission(creds.account_id, [user(f"u{i}")], limit=3) for i in range(5)]
        outcomes = await store.append(batch)
        assert [o.status for o in outcomes] == ["accepted"] * 3 + ["limited"] * 2
        assert [o.remaining for o in outcomes[:3]] == [2, 1, 0]
        assert outcomes[3].limit == 3 and outcomes[3].reset_seconds >= 1
        # the window's count survives the batch: a later batch is refused too
        later = await store.append([submission(creds.account_id, [user("late")], limit=3)])
        assert later[0].status == "limited"
        assert (await store.stats(creds.account_id)).pending == 3

    run(database_url, scenario)


@pytest.mark.usefixtures("steady_rate_window")
def test_limit_zero_is_unlimited_and_extra_costs_are_charged_together(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        acc = (await store.create_account("acme", "o@acme.test")).account_id
        free = await store.append([submission(acc, [user(f"u{i}")], limit=0) for i in range(20)])
        assert all(o.status == "accepted" for o in free)
        sub = submission(acc, [user("x")], bucket="bulk", limit=10)
        combined = [
            type(sub)(acc, "bulk", 1, 10, sub.payload, 1, None, (("users", 2, 3),)),
            type(sub)(acc, "bulk", 1, 10, sub.payload, 1, None, (("users", 2, 3),)),
        ]
        outcomes = await store.append(combined)
        assert [o.status for o in outcomes] == ["accepted", "limited"]
        assert outcomes[1].bucket == "users"

    run(database_url, scenario)


def test_request_id_repeat_is_a_duplicate_and_stores_nothing(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        acc = (await store.create_account("acme", "o@acme.test")).account_id
        other = (await store.create_account("other", "o@other.test")).account_id
        first = await store.append([submission(acc, [event("u1")], request_id="r-1")])
        again = await store.append(
            [
                submission(acc, [event("u1")], request_id="r-1"),
                submission(acc, [event("u1")], request_id="r-2"),
                submission(acc, [event("u1")], request_id="r-2"),  # repeat inside one batch
                submission(other, [event("u1")], request_id="r-1"),  # ids are per account
            ]
        )
        assert first[0].status == "accepted"
        assert [o.status for o in again] == ["duplicate", "accepted", "duplicate", "accepted"]
        assert await drain_all(store) == 3
        assert (await store.stats(acc)).events == 2
        assert (await store.stats(other)).events == 1

    run(database_url, scenario)


def test_records_apply_once_in_acceptance_order(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        acc = (await store.create_account("acme", "o@acme.test")).account_id
        for i in range(30):
            records = [user(f"u{j}", seq=i) for j in range(5)] + [event(f"u{j}", n=i) for j in range(5)]
            await store.append([submission(acc, list(records))])
        assert (await store.stats(acc)).pending == 300
        assert await drain_all(store) == 300
        assert await drain_all(store) == 0  # acknowledged: never applied again
        for j in range(5):
            profile = await store.profile(acc, "u", f"u{j}")
            assert profile is not None and profile.data.attributes == {"seq": 29}
            page = await store.events(acc, profile.id, 100, None)
            assert [e.data["n"] for e in page.items] == list(range(29, -1, -1))
        stats = await store.stats(acc)
        assert (stats.users, stats.events, stats.pending) == (5, 150, 0)

    run(database_url, scenario)


def test_small_batches_keep_order_across_calls(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        acc = (await store.create_account("acme", "o@acme.test")).account_id
        await store.append([submission(acc, [user("u", seq=i)]) for i in range(40)])
        total = 0
        while n := await process_once(store, 3):
            assert n <= 3
            total += n
        assert total == 40
        profile = await store.profile(acc, "u", "u")
        assert profile is not None and profile.data.attributes == {"seq": 39}

    run(database_url, scenario)


def test_identify_merges_anonymous_profile_and_events(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        acc = (await store.create_account("acme", "o@acme.test")).account_id
        await store.append([submission(acc, [event(None, anonymous_id="anon-1", n=1)])])
        await drain_all(store)
        await store.append([submission(acc, [UserRecord(user_id="known", anonymous_id="anon-1")])])
        await store.append([submission(acc, [event("known", n=2)])])
        await drain_all(store)
        profile = await store.profile(acc, "u", "known")
        assert profile is not None and profile.anonymous_ids == ["anon-1"]
        page = await store.events(acc, profile.id, 10, None)
        assert sorted(e.data["n"] for e in page.items) == [1, 2]
        stats = await store.stats(acc)
        assert (stats.users, stats.anonymous_users, stats.events) == (1, 0, 2)

    run(database_url, scenario)


def test_attribute_type_limit_is_exact(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        acc = (await store.create_account("acme", "o@acme.test")).account_id
        await store.append([submission(acc, [user(f"u{i}", **{f"a{i}": "x"})]) for i in range(40)])
        await drain_all(store)
        schema = await store.schema(acc)
        assert sum(a.scope == "user" for a in schema) == 25
        page = await store.rejections(acc, 100, None, None)
        assert sum(1 for r in page.items if r.reason == "type_limit") == 15

    run(database_url, scenario)


def test_admin_changes_bump_config_version_and_revoke(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        from openengage.accounts import Actor, hash_key, role_permissions

        v0 = await store.config_version()
        creds = await store.create_account("acme", "o@acme.test", {"users": 7})
        v1 = await store.config_version()
        assert v1 > v0
        account = await store.account_by_license(creds.license_code)
        assert account is not None and account.limit("users") == 7
        assert (await store.account_by_app_id(creds.app_id)) == account
        member, key = await store.add_member(creds.account_id, "m@acme.test", "manager", role_permissions("manager"))
        assert (await store.principal(hash_key(key))) is not None
        await store.revoke_key(creds.account_id, "m@acme.test", actor=Actor.for_member("o@acme.test"))
        assert (await store.principal(hash_key(key))) is None
        assert await store.config_version() > v1
        keys = await store.list_keys(creds.account_id)
        assert [k.member for k in keys] == ["o@acme.test", "m@acme.test"]
        assert keys[1].revoked_reason == "revoked by o@acme.test"
        updated = await store.set_limits(creds.account_id, {"events": 0})
        assert updated.limits == {"users": 7, "events": 0}
        assert [m.email for m in await store.list_members(creds.account_id)] == ["o@acme.test", "m@acme.test"]
        assert member.role == "manager"

    run(database_url, scenario)


def test_maintain_keeps_recent_request_ids(database_url: str) -> None:
    async def scenario(store: Store) -> None:
        from openengage.rules.dates import now_ms

        acc = (await store.create_account("acme", "o@acme.test")).account_id
        await store.append([submission(acc, [event("u")], request_id="keep")])
        await store.maintain(now_ms())
        again = await store.append([submission(acc, [event("u")], request_id="keep")])
        assert again[0].status == "duplicate"
        await store.maintain(now_ms() + 5 * 3600 * 1000)  # four hours later the id is forgotten
        later = await store.append([submission(acc, [event("u")], request_id="keep")])
        assert later[0].status == "accepted"

    run(database_url, scenario)
