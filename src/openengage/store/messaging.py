"""Messaging administration and reads, written once over the Executor: channels, campaigns, transactions.

Channels and campaigns are administrative changes like the team's (store/admin.py): one transaction locks
the account, checks the acting member's permission (Update Integrations), makes the change, bumps
`config_version` (API nodes drop their caches within a second) and writes the audit log entry. Audit
details never hold a password or a webhook secret. A campaign's templates are checked before anything is
written (rules/templates.py): a template error changes nothing.

The outbox's hot paths (enqueue, claim, finish) are per backend (store/<backend>/outbox.py), in the
database of the ingest log; the transaction read here sees them through the executor's reader (SQLite: the
log file is attached as `log`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openengage import accounts as rules
from openengage.accounts import SYSTEM, Actor
from openengage.errors import Conflict, NotFound
from openengage.rules import templates
from openengage.rules.dates import now_ms
from openengage.store.admin import Admin
from openengage.store.base import Attempt, Campaign, Channel, Message, Row, Transaction
from openengage.store.common import json_decode, json_encode

CHANNEL_KINDS = ("email", "webhook")
CAMPAIGN_STATUSES = ("draft", "running", "paused")


def channel_of(r: Row) -> Channel:
    """(account_id, kind, config, secret, updated_at)."""
    return Channel(int(r[0]), r[1], json_decode(r[2]), r[3], int(r[4]))


def campaign_of(r: Row) -> Campaign:
    """(id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at)."""
    return Campaign(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], int(r[9]), int(r[10]))


def _config_text(kind: str, config: dict[str, Any]) -> str:
    """What the audit log says of a channel: where it sends, never a credential."""
    if kind == "email":
        return f"smtp: {config.get('smtp_display', '')}; from: {config.get('from', '')}"
    return f"url: {config.get('url', '')}"


def _message_of(r: Sequence[Any]) -> Message:
    """(id, seq, experiment id, channel, status, detail, next_at, updated_at): a message, its attempts to add."""
    return Message(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], [], int(r[6]), int(r[7]))


class Messaging(Admin):
    """Mixed into each backend's store (in place of Admin, which it extends), which sets `ex`."""

    async def set_channel(
        self, account_id: int, kind: str, config: dict[str, Any], secret: str | None, *, actor: Actor = SYSTEM
    ) -> Channel:
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel '{kind}'; use one of {', '.join(CHANNEL_KINDS)}")
        async with self.ex.transaction() as tx:
            await self._acting(tx, account_id, actor, rules.SET_CHANNEL)
            now = now_ms()
            if secret is None:
                current = await tx.one("channel_get", account_id, kind)
                secret = current[3] if current is not None else None
            await tx.run("channel_put", account_id, kind, json_encode(config).decode(), secret, now)
            detail = _config_text(kind, config)
            if kind == "webhook":
                detail += "; signing secret " + ("replaced" if secret is not None else "none")
            await self._changed(tx, actor, account_id, rules.SET_CHANNEL, kind, detail, now)
            row = await tx.one("channel_get", account_id, kind)
            assert row is not None
        return channel_of(row)

    async def channels(self, account_id: int) -> list[Channel]:
        return [channel_of(r) for r in await self.ex.all("channels_of", account_id)]

    async def channel(self, account_id: int, kind: str) -> Channel | None:
        row = await self.ex.one("channel_get", account_id, kind)
        return channel_of(row) if row is not None else None

    async def create_campaign(
        self,
        account_id: int,
        name: str,
        channel: str,
        subject: str,
        body: str,
        html: bool,
        *,
        actor: Actor = SYSTEM,
    ) -> Campaign:
        if channel not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel '{channel}'; use one of {', '.join(CHANNEL_KINDS)}")
        name = name.strip()
        if not name or len(name) > 200 or not name.isprintable():
            raise ValueError("a campaign name is 1 to 200 printable characters")
        templates.check_campaign(subject, body, html)
        async with self.ex.transaction() as tx:
            await self._acting(tx, account_id, actor, rules.CREATE_CAMPAIGN)
            now = now_ms()
            for _ in range(10):
                code = rules.new_campaign_code()
                row = await tx.one(
                    "campaign_insert", account_id, code, name, channel, subject, body, html, "draft", now, now
                )
                if row is not None:
                    break
            else:  # pragma: no cover - 10 collisions of 32 random bits in one account
                raise Conflict("could not allocate a unique campaign id")
            detail = f"name: {name}; channel: {channel}; body: {'html' if html else 'text'}"
            await self._changed(tx, actor, account_id, rules.CREATE_CAMPAIGN, code, detail, now)
            created = await tx.one("campaign_get", account_id, code)
            assert created is not None
        return campaign_of(created)

    async def set_campaign_status(self, account_id: int, code: str, status: str, *, actor: Actor = SYSTEM) -> Campaign:
        if status not in ("running", "paused"):
            raise ValueError("a campaign is started (running) or paused")
        async with self.ex.transaction() as tx:
            await self._acting(tx, account_id, actor, rules.SET_CAMPAIGN_STATUS)
            row = await tx.one("campaign_get", account_id, code)
            if row is None:
                raise NotFound(f"no campaign '{code}' in this account")
            before = campaign_of(row)
            now = now_ms()
            await tx.run("campaign_status", status, now, before.id)
            detail = f"status: {before.status} -> {status}"
            await self._changed(tx, actor, account_id, rules.SET_CAMPAIGN_STATUS, code, detail, now)
            after = await tx.one("campaign_get", account_id, code)
            assert after is not None
        return campaign_of(after)

    async def campaigns(self, account_id: int) -> list[Campaign]:
        return [campaign_of(r) for r in await self.ex.all("campaigns_of", account_id)]

    async def campaign(self, account_id: int, code: str) -> Campaign | None:
        row = await self.ex.one("campaign_get", account_id, code)
        return campaign_of(row) if row is not None else None

    async def campaign_by_id(self, account_id: int, campaign_id: int) -> Campaign | None:
        row = await self.ex.one("campaign_by_id", account_id, campaign_id)
        return campaign_of(row) if row is not None else None

    async def transaction(self, account_id: int, txn_id: str) -> Transaction | None:
        row = await self.ex.one("transaction_latest", account_id, txn_id)
        if row is None:
            return None
        tid = int(row[0])
        messages: dict[int, Message] = {}
        for m in await self.ex.all("transaction_messages", tid):  # a message's rows: one per attempt
            found = messages.get(int(m[0]))
            if found is None:
                found = messages[int(m[0])] = _message_of(m[:8])
            if m[8] is not None:
                found.attempts.append(Attempt(int(m[8]), m[9], m[10]))
        return Transaction(tid, int(row[1]), row[2], row[3], row[4], int(row[5]), int(row[6]), list(messages.values()))

    async def user_transactions(self, account_id: int, user_id: str, limit: int) -> list[Transaction]:
        rows = await self.ex.all("user_transactions", account_id, user_id, limit)
        if not rows:
            return []
        oldest = min(int(r[0]) for r in rows)
        messages: dict[int, list[Message]] = {}
        seen: dict[int, Message] = {}
        for m in await self.ex.all("user_messages", account_id, user_id, oldest):  # one row per attempt
            found = seen.get(int(m[1]))
            if found is None:
                found = seen[int(m[1])] = _message_of(m[1:9])
                messages.setdefault(int(m[0]), []).append(found)
            if m[9] is not None:
                found.attempts.append(Attempt(int(m[9]), m[10], m[11]))
        return [
            Transaction(int(r[0]), int(r[1]), r[2], r[3], r[4], int(r[5]), int(r[6]), messages.get(int(r[0]), []))
            for r in rows
        ]
