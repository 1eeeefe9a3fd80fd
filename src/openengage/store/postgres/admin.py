"""Administration on PostgreSQL: accounts, members, keys, limits. Every change bumps `config_version`
in its own transaction, which API nodes poll to drop their auth caches."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from openengage import accounts as acc_rules
from openengage.accounts import Account, Credentials, Member, Principal
from openengage.errors import Conflict, NotFound, PermissionDenied
from openengage.rules.dates import now_ms
from openengage.store import common
from openengage.store.postgres.connection import Conn
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")


async def one(conn: Conn, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[Any, ...] | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def many(conn: Conn, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


def _perms(permissions: frozenset[str]) -> str:
    return common.json_encode(sorted(permissions)).decode()


async def account(conn: Conn, row: Sequence[Any] | None) -> Account | None:
    if row is None:
        return None
    limits = {str(name): int(n) for name, n in await many(conn, Q["limits_of"], (row[0],))}
    return Account(int(row[0]), row[1], row[2], row[3], limits, row[4])


async def create_account(
    conn: Conn, name: str, owner_email: str, limits: dict[str, int] | None, api_key: str, data_key: str
) -> Credentials:
    now = now_ms()
    for _ in range(10):
        license_code, app_id = acc_rules.new_license_code(), acc_rules.new_app_id()
        row = await one(conn, Q["account_insert"], (name, license_code, app_id, acc_rules.hash_key(data_key), now))
        if row is not None:
            break
    else:  # pragma: no cover - 10 collisions of 32 random bits
        raise Conflict("could not allocate a unique license code")
    account_id = int(row[0])
    for limit_name, per_minute in (limits or {}).items():
        await conn.execute(Q["limit_put"], (account_id, limit_name, per_minute))
    perms = acc_rules.role_permissions("admin")
    member = await one(conn, Q["member_insert"], (account_id, owner_email, "admin", _perms(perms), now))
    assert member is not None
    await conn.execute(Q["key_insert"], (member[0], account_id, acc_rules.hash_key(api_key), api_key[-4:], now))
    return Credentials(account_id, name, license_code, app_id, api_key, data_key, owner_email)


async def set_limits(conn: Conn, account_id: int, limits: dict[str, int]) -> Account:
    for limit_name, per_minute in limits.items():
        await conn.execute(Q["limit_put"], (account_id, limit_name, per_minute))
    found = await account(conn, await one(conn, Q["account_by_id"], (account_id,)))
    if found is None:
        raise NotFound(f"no account with id {account_id}")
    return found


def member(row: Sequence[Any] | None) -> Member | None:
    if row is None:
        return None
    return Member(int(row[0]), int(row[1]), row[2], row[3], frozenset(common.json_decode(row[4])), bool(row[5]))


async def member_or_raise(conn: Conn, account_id: int, email: str) -> Member:
    found = member(await one(conn, Q["member_get"], (account_id, email)))
    if found is None:
        raise NotFound(f"no team member '{email}' in this account")
    return found


async def add_member(
    conn: Conn, account_id: int, email: str, role: str, permissions: frozenset[str], api_key: str
) -> tuple[Member, str]:
    now = now_ms()
    row = await one(conn, Q["member_insert"], (account_id, email, role, _perms(permissions), now))
    if row is None:
        raise Conflict(f"team member '{email}' already exists")
    await conn.execute(Q["key_insert"], (row[0], account_id, acc_rules.hash_key(api_key), api_key[-4:], now))
    return await member_or_raise(conn, account_id, email), api_key


async def set_role(conn: Conn, account_id: int, email: str, role: str, permissions: frozenset[str]) -> Member:
    found = await member_or_raise(conn, account_id, email)
    await conn.execute(Q["member_role"], (role, _perms(permissions), found.id))
    await conn.execute(Q["keys_revoke_member"], (now_ms(), "role changed", found.id))
    return await member_or_raise(conn, account_id, email)


async def remove_member(conn: Conn, account_id: int, email: str) -> None:
    found = await member_or_raise(conn, account_id, email)
    await conn.execute(Q["keys_revoke_member"], (now_ms(), "member deleted", found.id))
    await conn.execute(Q["member_delete"], (found.id,))


async def issue_key(conn: Conn, account_id: int, email: str, api_key: str) -> str:
    found = await member_or_raise(conn, account_id, email)
    now = now_ms()
    await conn.execute(Q["keys_revoke_member"], (now, "replaced", found.id))
    await conn.execute(Q["key_insert"], (found.id, account_id, acc_rules.hash_key(api_key), api_key[-4:], now))
    return api_key


async def revoke_key(conn: Conn, account_id: int, email: str, by_email: str) -> None:
    actor = await member_or_raise(conn, account_id, by_email)
    if not acc_rules.can_revoke_keys(actor.permissions):
        raise PermissionDenied(f"'{by_email}' lacks the Update Data Management permission needed to revoke keys")
    found = await member_or_raise(conn, account_id, email)
    await conn.execute(Q["keys_revoke_member"], (now_ms(), f"revoked by {by_email}", found.id))


async def list_keys(conn: Conn, account_id: int) -> list[dict[str, Any]]:
    return [
        {"member": r[0], "hint": "…" + r[1], "created_at": r[2], "revoked_at": r[3], "revoked_reason": r[4]}
        for r in await many(conn, Q["keys_of"], (account_id,))
    ]


async def principal(conn: Conn, key_hash: str) -> Principal | None:
    row = await one(conn, Q["principal"], (key_hash,))
    if row is None or not hmac.compare_digest(row[0], key_hash):
        return None
    return Principal(int(row[1]), int(row[2]), row[3], frozenset(common.json_decode(row[4])))
