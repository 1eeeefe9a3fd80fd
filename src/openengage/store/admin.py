"""Administration, written once for every backend over its Executor: accounts, team members, keys, limits.

Every change runs in one transaction that also checks the acting member's permissions and the team rules
(accounts.py) against the current team, bumps `config_version` (API nodes poll it and drop their auth
caches, so a change reaches every node within a second) and writes the audit log entry. The account's row
is locked first (`account_lock`: FOR UPDATE on PostgreSQL; SQLite's write transactions are serial), so two
concurrent removals can never leave an account without an admin.

Audit entries name the action, its target and what changed; never a key, a key hash or a hint.
"""

from __future__ import annotations

import hmac

from openengage import accounts as rules
from openengage.accounts import SYSTEM, Account, Actor, Credentials, Member, Principal
from openengage.errors import Conflict, NotFound
from openengage.rules.dates import now_ms
from openengage.store.base import ApiKey, Executor, Reader, Row, Tx
from openengage.store.common import json_decode, json_encode


def _perms(permissions: frozenset[str]) -> str:
    return json_encode(sorted(permissions)).decode()


def member_of(r: Row) -> Member:
    """(id, account_id, email, role, permissions, has_key, owner)."""
    return Member(int(r[0]), int(r[1]), r[2], r[3], frozenset(json_decode(r[4])), bool(r[5]), bool(r[6]))


def _find(team: list[Member], email: str) -> Member:
    for m in team:
        if m.email == email:
            return m
    raise NotFound(f"no team member '{email}' in this account")


def _permissions_text(permissions: frozenset[str]) -> str:
    return ", ".join(p for p in rules.PERMISSIONS if p in permissions) or "none"


class Admin:
    """Mixed into each backend's store, which sets `ex`."""

    ex: Executor

    # ------------------------------------------------------------ helpers

    async def _account(self, q: Reader, row: Row | None) -> Account | None:
        if row is None:
            return None
        limits = {str(name): int(n) for name, n in await q.all("limits_of", row[0])}
        return Account(int(row[0]), row[1], row[2], row[3], limits, row[4])

    @staticmethod
    async def _team(q: Reader, account_id: int) -> list[Member]:
        return [member_of(r) for r in await q.all("members_of", account_id)]

    @staticmethod
    async def _lock(tx: Tx, account_id: int) -> Row:
        """Lock the account's row for the transaction (serializes its team changes); NotFound if none."""
        row = await tx.one("account_lock", account_id)
        if row is None:
            raise NotFound(f"no account with id {account_id}")
        return row

    async def _acting(self, tx: Tx, account_id: int, actor: Actor, action: str) -> tuple[Member, list[Member]]:
        """Lock the account, load its team, and check that `actor` may perform `action` at all."""
        await self._lock(tx, account_id)
        team = await self._team(tx, account_id)
        who = rules.acting_member(actor, team)
        rules.check_action(who, action)
        return who, team

    @staticmethod
    async def _changed(
        tx: Tx, actor: Actor, account_id: int, action: str, target: str, detail: str = "", at: int | None = None
    ) -> None:
        """Every admin change: bump the config version and audit it, in the change's transaction."""
        await tx.run("config_bump")
        at = now_ms() if at is None else at
        await tx.run("audit_insert", account_id, at, actor.name, actor.address, action, target, detail)

    @staticmethod
    async def _insert_key(tx: Tx, member_id: int, account_id: int, api_key: str, at: int) -> None:
        await tx.run("key_insert", member_id, account_id, rules.hash_key(api_key), api_key[-4:], at)

    # ------------------------------------------------------------ accounts

    async def config_version(self) -> int:
        row = await self.ex.one("config_version")
        return int(row[0]) if row is not None else 0

    async def create_account(
        self, name: str, owner_email: str, limits: dict[str, int] | None = None, *, actor: Actor = SYSTEM
    ) -> Credentials:
        """A new account with its owner (an admin holding every permission) and the owner's REST key."""
        rules.check_email(owner_email)
        rules.check_limits(limits or {})
        api_key, data_key = rules.new_api_key(), rules.new_data_api_key()
        async with self.ex.transaction() as tx:
            now = now_ms()
            for _ in range(10):
                license_code, app_id = rules.new_license_code(), rules.new_app_id()
                row = await tx.one("account_insert", name, license_code, app_id, rules.hash_key(data_key), now)
                if row is not None:
                    break
            else:  # pragma: no cover - 10 collisions of 32 random bits
                raise Conflict("could not allocate a unique license code")
            account_id = int(row[0])
            for limit_name, per_minute in (limits or {}).items():
                await tx.run("limit_put", account_id, limit_name, per_minute)
            perms = rules.role_permissions(rules.ADMIN_ROLE)
            member = await tx.one("member_insert", account_id, owner_email, rules.ADMIN_ROLE, _perms(perms), True, now)
            assert member is not None
            await self._insert_key(tx, int(member[0]), account_id, api_key, now)
            detail = f"name: {name}; owner: {owner_email}"
            await self._changed(tx, actor, account_id, rules.CREATE_ACCOUNT, license_code, detail, now)
        return Credentials(account_id, name, license_code, app_id, api_key, data_key, owner_email)

    async def list_accounts(self) -> list[Account]:
        limits: dict[int, dict[str, int]] = {}
        for account_id, name, per_minute in await self.ex.all("limits_all"):
            limits.setdefault(int(account_id), {})[str(name)] = int(per_minute)
        return [
            Account(int(r[0]), r[1], r[2], r[3], limits.get(int(r[0]), {}), r[4])
            for r in await self.ex.all("accounts_all")
        ]

    async def account_by_license(self, license_code: str) -> Account | None:
        return await self._account(self.ex, await self.ex.one("account_by_license", license_code))

    async def account_by_app_id(self, app_id: str) -> Account | None:
        return await self._account(self.ex, await self.ex.one("account_by_app_id", app_id))

    async def set_limits(self, account_id: int, limits: dict[str, int], *, actor: Actor = SYSTEM) -> Account:
        rules.check_limits(limits)
        async with self.ex.transaction() as tx:
            await self._acting(tx, account_id, actor, rules.SET_LIMITS)
            for limit_name, per_minute in limits.items():
                await tx.run("limit_put", account_id, limit_name, per_minute)
            account = await self._account(tx, await tx.one("account_by_id", account_id))
            assert account is not None  # locked above
            detail = ", ".join(f"{n}={v}" for n, v in sorted(limits.items()))
            await self._changed(tx, actor, account_id, rules.SET_LIMITS, account.license_code, detail)
        return account

    async def rotate_data_api_key(self, account_id: int, *, actor: Actor = SYSTEM) -> str:
        """A new MoEngage Data API key; the old one stops working."""
        key = rules.new_data_api_key()
        async with self.ex.transaction() as tx:
            await self._acting(tx, account_id, actor, rules.ROTATE_DATA_KEY)
            await tx.run("account_data_key", rules.hash_key(key), account_id)
            row = await tx.one("account_by_id", account_id)
            assert row is not None
            await self._changed(tx, actor, account_id, rules.ROTATE_DATA_KEY, row[2])
        return key

    # ------------------------------------------------------------ team

    async def list_members(self, account_id: int) -> list[Member]:
        return await self._team(self.ex, account_id)

    async def member(self, account_id: int, email: str) -> Member | None:
        row = await self.ex.one("member_get", account_id, email)
        return member_of(row) if row is not None else None

    async def add_member(
        self, account_id: int, email: str, role: str, permissions: frozenset[str], *, actor: Actor = SYSTEM
    ) -> tuple[Member, str]:
        """A new team member with their REST key (returned once; only its hash is stored)."""
        rules.check_email(email)
        rules.check_role(role, permissions)
        api_key = rules.new_api_key()
        async with self.ex.transaction() as tx:
            who, _ = await self._acting(tx, account_id, actor, rules.ADD_MEMBER)
            rules.check_grant(who, permissions)
            now = now_ms()
            row = await tx.one("member_insert", account_id, email, role, _perms(permissions), False, now)
            if row is None:
                raise Conflict(f"team member '{email}' already exists")
            await self._insert_key(tx, int(row[0]), account_id, api_key, now)
            detail = f"role: {role}; permissions: {_permissions_text(permissions)}"
            await self._changed(tx, actor, account_id, rules.ADD_MEMBER, email, detail, now)
            added = await tx.one("member_get", account_id, email)
            assert added is not None
        return member_of(added), api_key

    async def set_role(
        self, account_id: int, email: str, role: str, permissions: frozenset[str], *, actor: Actor = SYSTEM
    ) -> Member:
        """Change a member's role and permissions; this revokes their key (the seed's rule)."""
        rules.check_role(role, permissions)
        async with self.ex.transaction() as tx:
            who, team = await self._acting(tx, account_id, actor, rules.SET_ROLE)
            target = _find(team, email)
            rules.check_grant(who, permissions)
            rules.check_role_change(target, role, team)
            await tx.run("member_role", role, _perms(permissions), target.id)
            await tx.run("keys_revoke_member", now_ms(), "role changed", target.id)
            detail = f"role: {target.role} -> {role}; permissions: {_permissions_text(permissions)}"
            await self._changed(tx, actor, account_id, rules.SET_ROLE, email, detail)
            changed = await tx.one("member_get", account_id, email)
            assert changed is not None
        return member_of(changed)

    async def remove_member(self, account_id: int, email: str, *, actor: Actor = SYSTEM) -> None:
        """Delete a member and revoke their key. The owner and the last admin stay."""
        async with self.ex.transaction() as tx:
            _, team = await self._acting(tx, account_id, actor, rules.REMOVE_MEMBER)
            target = _find(team, email)
            rules.check_removal(target, team)
            await tx.run("keys_revoke_member", now_ms(), "member deleted", target.id)
            await tx.run("session_members_forget", target.id)  # their sessions lose this account
            await tx.run("login_links_forget", target.id)
            await tx.run("member_delete", target.id)
            await self._changed(tx, actor, account_id, rules.REMOVE_MEMBER, email, f"role: {target.role}")

    # ------------------------------------------------------------ keys

    async def issue_key(self, account_id: int, email: str, *, actor: Actor = SYSTEM) -> str:
        """A new REST key for a member (returned once), revoking their current one."""
        api_key = rules.new_api_key()
        async with self.ex.transaction() as tx:
            await self._lock(tx, account_id)
            team = await self._team(tx, account_id)
            target = _find(team, email)
            rules.check_action(rules.acting_member(actor, team), rules.ISSUE_KEY, target)
            now = now_ms()
            replaced = await tx.run("keys_revoke_member", now, "replaced", target.id)
            await self._insert_key(tx, target.id, account_id, api_key, now)
            detail = "replaced the active key" if replaced else ""
            await self._changed(tx, actor, account_id, rules.ISSUE_KEY, email, detail, now)
        return api_key

    async def revoke_key(self, account_id: int, email: str, *, actor: Actor = SYSTEM) -> None:
        """Revoke a member's key: needs Update Data (Management). Conflict when there is none to revoke."""
        async with self.ex.transaction() as tx:
            _, team = await self._acting(tx, account_id, actor, rules.REVOKE_KEY)
            target = _find(team, email)
            if not await tx.run("keys_revoke_member", now_ms(), f"revoked by {actor.name}", target.id):
                raise Conflict(f"'{email}' has no active API key: it was already revoked")
            await self._changed(tx, actor, account_id, rules.REVOKE_KEY, email)

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        return [
            ApiKey(r[0], "…" + r[1], int(r[2]), None if r[3] is None else int(r[3]), r[4], r[5])
            for r in await self.ex.all("keys_of", account_id)
        ]

    async def principal(self, key_hash: str) -> Principal | None:
        """The member an active key belongs to (looked up by its hash, compared in constant time)."""
        row = await self.ex.one("principal", key_hash)
        if row is None or not hmac.compare_digest(row[0], key_hash):
            return None
        return Principal(int(row[1]), int(row[2]), row[3], frozenset(json_decode(row[4])))
