"""Dashboard access, written once for every backend over its Executor: the signing secret, passwords,
one-time sign-in links, sessions, sign-in throttling, and when each REST key was last used.

Everything lives in the store so that every node of a cluster agrees: a session started on one node is
valid on all of them and ends on all of them at sign-out; a link used on one node cannot be used again on
another; failed sign-ins are counted across nodes. Secrets arrive hashed: session and link tokens as
SHA-256 digests of 256 random bits (a stolen table opens nothing), passwords as Argon2id hashes (hashing is
the dashboard's job, dashboard/auth.py; it is slow on purpose and runs off the event loop).

Changing a password and creating a link are administrative actions: audited in their transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from openengage import accounts as rules
from openengage.accounts import SYSTEM, Actor
from openengage.errors import NotFound, PermissionDenied
from openengage.rules.dates import now_ms
from openengage.store.admin import Admin, member_of
from openengage.store.base import Login, Membership, Minute, Session, Tx

_MINUTE_MS = 60_000


class Access(Admin):
    """Mixed into each backend's store (after Admin, whose helpers it uses), which sets `ex`."""

    _secret: bytes | None = None

    async def dashboard_secret(self) -> bytes:
        """The key that signs session cookies and CSRF tokens: made once, kept in the store, shared by
        every node (a cookie signed by one node is valid on all)."""
        if self._secret is None:
            row = await self.ex.one("dashboard_secret_get")
            if row is None:
                async with self.ex.transaction() as tx:
                    await tx.run("dashboard_secret_put", secrets.token_hex(32))
                    row = await tx.one("dashboard_secret_get")
            assert row is not None
            self._secret = bytes.fromhex(row[0])
        return self._secret

    async def _target(self, tx: Tx, account_id: int, email: str, actor: Actor, doing: str) -> int:
        """Lock the account; the member `email`'s id. A named acting member needs Account Management to
        act on someone else; the CLI's operator (no member named) acts as the store's owner does."""
        await self._lock(tx, account_id)
        team = await self._team(tx, account_id)
        target = next((m for m in team if m.email == email), None)
        if target is None:
            raise NotFound(f"no team member '{email}' in this account")
        if actor.member is not None and actor.member != email:
            who = rules.acting_member(actor, team)
            if rules.ACCOUNT_MANAGEMENT not in who.permissions:
                raise PermissionDenied(f"'{who.email}' lacks the Account Management permission needed to {doing}")
        return target.id

    async def set_password(self, account_id: int, email: str, password_hash: str, *, actor: Actor = SYSTEM) -> None:
        """Set a member's dashboard password; their sessions lose this account (they sign in again)."""
        async with self.ex.transaction() as tx:
            member_id = await self._target(tx, account_id, email, actor, "set passwords")
            await tx.run("member_password_put", password_hash, member_id)
            await tx.run("session_members_forget", member_id)
            await self._changed(tx, actor, account_id, rules.SET_PASSWORD, email)

    async def logins(self, email: str) -> list[Login]:
        """Every membership of `email` (any account) that has a password."""
        return [Login(int(r[0]), int(r[1]), r[2]) for r in await self.ex.all("logins_of", email)]

    async def create_login_link(
        self, account_id: int, email: str, token_hash: str, expires_at: int, *, actor: Actor = SYSTEM
    ) -> None:
        async with self.ex.transaction() as tx:
            member_id = await self._target(tx, account_id, email, actor, "create sign-in links")
            now = now_ms()
            await tx.run("login_link_insert", token_hash, member_id, now, expires_at)
            await tx.run("login_links_prune", now)
            await self._changed(tx, actor, account_id, rules.LOGIN_LINK, email, "valid 24 h, single use", now)

    async def use_login_link(self, token_hash: str, now: int) -> tuple[int, str] | None:
        """The member (id, email) a valid, unused link signs in as; the link is used up (once, on every node)."""
        async with self.ex.transaction() as tx:
            row = await tx.one("login_link_use", now, token_hash, now)
            member = None if row is None else await tx.one("member_email", row[0])
        return None if member is None else (int(member[0]), member[1])

    # ------------------------------------------------------------ sessions

    async def start_session(
        self, token_hash: str, email: str, member_ids: Sequence[int], expires_at: int, replaces: str | None = None
    ) -> None:
        """A new session (a new token: sessions rotate at sign-in); the one it `replaces` ends."""
        async with self.ex.transaction() as tx:
            now = now_ms()
            if replaces is not None:
                await tx.run("session_members_end", replaces)
                await tx.run("session_end", replaces)
            await tx.run("sessions_prune_members", now)
            await tx.run("sessions_prune", now)
            row = await tx.one("session_insert", token_hash, email, now, expires_at)
            assert row is not None
            for member_id in sorted(set(member_ids)):
                await tx.run("session_member_insert", int(row[0]), member_id)

    async def session(self, token_hash: str, now: int) -> Session | None:
        row = await self.ex.one("session_get", token_hash, now)
        if row is None:
            return None
        memberships = [
            Membership(member_of(r[:7]), r[7], r[8], r[9]) for r in await self.ex.all("session_memberships", row[0])
        ]
        return Session(int(row[0]), row[1], int(row[2]), memberships)

    async def end_session(self, token_hash: str) -> None:
        async with self.ex.transaction() as tx:
            await tx.run("session_members_end", token_hash)
            await tx.run("session_end", token_hash)

    # ------------------------------------------------------------ sign-in throttling

    async def sign_in_failures(self, subjects: Sequence[str], since_ms: int) -> dict[str, int]:
        """Failed sign-ins since `since_ms` per subject (`email:…`, `client:…`), counted on every node."""
        counts = {s: 0 for s in subjects}
        for subject in subjects:
            row = await self.ex.one("sign_in_failures_count", subject, since_ms)
            counts[subject] = int(row[0]) if row is not None else 0
        return counts

    async def record_sign_in_failure(self, subjects: Sequence[str], at: int) -> None:
        async with self.ex.transaction() as tx:
            for subject in subjects:
                await tx.run("sign_in_failure_insert", subject, at)
            await tx.run("sign_in_failures_prune", at - 24 * 3600 * 1000)

    async def clear_sign_in_failures(self, subject: str) -> None:
        async with self.ex.transaction() as tx:
            await tx.run("sign_in_failures_clear", subject)

    # ------------------------------------------------------------ key use, throughput

    async def note_key_use(self, uses: dict[str, int]) -> None:
        """When REST keys were last used (key hash -> ms): one write per flush, never per request."""
        if not uses:
            return
        async with self.ex.transaction() as tx:
            for key_hash, at in sorted(uses.items()):
                await tx.run("key_used", at, key_hash, at)

    async def throughput(self, account_id: int, since_ms: int) -> list[Minute]:
        """Per minute since `since_ms` (inclusive, whole minutes): records accepted and processed. Minutes
        with nothing are absent (the caller fills them)."""
        start = since_ms - since_ms % _MINUTE_MS
        rows = await self.ex.all("minutes_since", account_id, start)
        return [Minute(int(r[0]), int(r[1]), int(r[2])) for r in rows]
