"""GDPR requests, written once for every backend over its Executor: register, read, cancel, erase.

Registering, reading and cancelling are one transaction each, charged against the account's `gdpr`
limit in it (store/limits.py). A restriction or re-enable changes `gdpr_restrictions` in the transaction
that registers it; the processor loads the restricted users with the State it plans from.

An erasure runs once it is due (`erase_due`, called by the processor process every few seconds, on every
node): one transaction per request, which locks the request (PostgreSQL: FOR UPDATE SKIP LOCKED, so two
nodes never run the same one and never wait for each other) and the profile, removes the profile, its
identities, events, devices, rejections and merge-ledger entries, the user's restriction, replaces the
user id on every request of that user by a salted hash, marks the request done and writes the audit
entry (counts and the hash, never the id). It is idempotent: a crash rolls it back and it runs again.

The person's outbox rows (transactions, messages, attempts: addresses, tokens) go too, through each
backend's `_erase_outbox`: on PostgreSQL in the same transaction; on SQLite, where the outbox lives in
the ingest log's file, in a commit of that file made before the erasure's own commit (a crash between
the two leaves the request pending, and the rerun finds nothing left in the outbox). Either way the
erasure waits (it is tried again in a few seconds) while a sender holds one of the person's messages, and
once it has removed them no sender can take one: nothing is sent for the person after the erasure.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from openengage.accounts import SYSTEM, Actor
from openengage.errors import Conflict, NotFound
from openengage.rules import gdpr
from openengage.rules.dates import format_ms, now_ms
from openengage.store.base import Charge, Erasure, Executor, GdprRequest, Outcome, Row, Tx
from openengage.store.limits import charge as charge_limit
from openengage.store.traces import json_text

log = logging.getLogger("openengage.gdpr")


def request_of(account_id: int, r: Row) -> GdprRequest:
    """(request_id, type, status, user_id, created_at, due_at, done_at)."""
    return GdprRequest(account_id, r[0], r[1], r[2], r[3], int(r[4]), None if r[5] is None else int(r[5]),
                       None if r[6] is None else int(r[6]))  # fmt: skip


async def _audit(tx: Tx, actor: Actor, account_id: int, at: int, action: str, target: str, detail: str) -> None:
    await tx.run("audit_insert", account_id, at, actor.name, actor.address, action, target, detail)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


class _InFlight(Exception):
    """A sender holds one of the person's messages right now: the erasure waits for the next round."""


class Privacy:
    """Mixed into each backend's store, which sets `ex`."""

    ex: Executor

    async def _erase_outbox(self, tx: Tx, account_id: int, users: list[str], now: int) -> int | None:
        """Delete the users' outbox transactions (with their messages and attempts) before `tx` commits; the
        number of transactions, or None (nothing deleted) while a sender holds one of their messages."""
        raise NotImplementedError

    async def gdpr_block(self, account_id: int, user_id: str, now: int) -> str | None:
        row = await self.ex.one("gdpr_block", account_id, user_id, account_id, user_id, now)
        return None if row is None else str(row[0])

    async def gdpr_register(
        self,
        account_id: int,
        request_id: str,
        kind: str,
        user_id: str,
        now: int,
        due_at: int | None,
        charge: Charge,
        actor: Actor = SYSTEM,
    ) -> tuple[GdprRequest, Outcome]:
        status = gdpr.PENDING if kind == gdpr.ERASURE else gdpr.DONE
        done_at = None if status == gdpr.PENDING else now
        async with self.ex.transaction() as tx:
            if await tx.one("identity_get", account_id, "u", user_id) is None:
                raise NotFound(f"no user with id '{user_id}' in this account")
            row = await tx.one(
                "gdpr_insert", account_id, request_id, kind, status, user_id, gdpr.new_salt(), now, due_at, done_at
            )
            if row is None:
                raise Conflict(f"subject_request_id '{request_id}' is already used by another request")
            if kind == gdpr.RESTRICTION:
                await tx.run("restriction_put", account_id, user_id, request_id, now)
            elif kind == gdpr.RE_ENABLE:
                await tx.run("restriction_delete", account_id, user_id)
            outcome = await charge_limit(tx, account_id, charge, now)
            detail = f"type: {kind}" + (f"; due: {format_ms(due_at)}" if due_at is not None else "")
            await _audit(tx, actor, account_id, now, gdpr.AUDIT_REGISTER, request_id, detail)
        return GdprRequest(account_id, request_id, kind, status, user_id, now, due_at, done_at), outcome

    async def gdpr_request(self, account_id: int, request_id: str, charge: Charge) -> tuple[GdprRequest, Outcome]:
        async with self.ex.transaction() as tx:
            row = await tx.one("gdpr_get", account_id, request_id)
            if row is None:
                raise NotFound(f"no GDPR request '{request_id}' in this account")
            outcome = await charge_limit(tx, account_id, charge, now_ms())
        return request_of(account_id, row), outcome

    async def gdpr_cancel(
        self, account_id: int, request_id: str, now: int, charge: Charge, actor: Actor = SYSTEM
    ) -> tuple[GdprRequest, Outcome]:
        async with self.ex.transaction() as tx:
            row = await tx.one("gdpr_get", account_id, request_id)
            if row is None:
                raise NotFound(f"no GDPR request '{request_id}' in this account")
            current = request_of(account_id, row)
            # The update re-checks what it reads (PostgreSQL: under the row lock), so a cancel and an
            # erasure of the same request never both happen.
            if not gdpr.cancellable(current.status, current.due_at, now) or not await tx.run(
                "gdpr_cancel", now, account_id, request_id, now
            ):
                status = gdpr.public_status(current.status, current.due_at, now)
                raise Conflict(
                    f"request '{request_id}' is {status}, not PENDING: only a pending request can be cancelled"
                )
            outcome = await charge_limit(tx, account_id, charge, now)
            await _audit(tx, actor, account_id, now, gdpr.AUDIT_CANCEL, request_id, f"type: {current.type}")
        cancelled = GdprRequest(account_id, request_id, current.type, gdpr.CANCELLED, current.user_id,
                                current.created_at, current.due_at, now)  # fmt: skip
        return cancelled, outcome

    # ------------------------------------------------------------ erasure

    async def erase_due(self, now: int, limit: int = 10) -> list[Erasure]:
        done: list[Erasure] = []
        for request_pk, account_id, due in await self.ex.all("gdpr_due", now - gdpr.GRACE_MS, limit):
            # Everything the account sent before the request fell due must be applied first, or it would
            # re-create the user afterwards. (Checked on a reader: its count can only go down.)
            pending = await self.ex.one("log_pending_before", int(account_id), int(due))
            if pending is not None and int(pending[0]) > 0:
                continue
            try:
                erased = await self._erase(int(request_pk), now)
            except _InFlight:
                log.info("GDPR erasure waits for a message being sent", extra={"action": "gdpr_erasure_wait"})
                continue
            if erased is not None:
                done.append(erased[0])
                # The request traces naming the person (store/traces.py; on SQLite in the ingest log's
                # file, so not in the transaction above). A crash in between leaves them to the traces'
                # retention (72 hours); the debugger's refused bodies went in the transaction.
                await cast(Any, self).erase_traces(erased[0].account_id, erased[1], erased[2])
        return done

    async def _erase(self, request_pk: int, now: int) -> tuple[Erasure, set[str], set[str]] | None:
        async with self.ex.transaction() as tx:
            row = await tx.one("gdpr_claim", request_pk, now - gdpr.GRACE_MS)
            if row is None:  # cancelled, done, or another node has it right now
                return None
            account_id, request_id, user_id, salt = int(row[0]), str(row[1]), str(row[2]), str(row[3])
            ident = await tx.one("identity_get", account_id, "u", user_id)
            profile_id = None if ident is None else int(ident[0])
            users: set[str] = {user_id}
            anonymous: set[str] = set()
            profiles = identities = devices = events = 0
            stats = (0, 0)
            if profile_id is not None and (profile := await tx.one("profile_lock", profile_id, account_id)):
                for kind, value in await tx.all("profile_identities", profile_id):
                    (users if kind == "u" else anonymous).add(str(value))
                if profile[0] is not None:
                    users.add(str(profile[0]))
                events += await tx.run("erase_profile_events", profile_id)
                merges = await tx.run("erase_profile_merges", account_id, profile_id, profile_id)
                devices = await tx.run("delete_devices", profile_id)
                identities = await tx.run("delete_identities", profile_id)
                profiles = await tx.run("delete_profile", profile_id)
                await tx.run("erase_profile_search_terms", account_id, profile_id)  # the dashboard's search
                stats = (-1, 0) if profile[0] is not None else (0, -1)
            else:
                merges = 0
            rejections = 0
            for uid in sorted(users):
                # Events of an earlier profile of the same id (a MoEngage delete keeps them, unattributed).
                events += await tx.run("erase_user_events", account_id, uid)
                rejections += await tx.run("erase_user_rejections", account_id, uid)
                await tx.run("erase_rejection_examples", account_id, uid, uid)  # data quality's latest examples
                merges += await tx.run("erase_user_merges", account_id, uid, uid)
                await tx.run("restriction_delete", account_id, uid)
                await tx.run("erase_refusals", account_id, uid, json_text(uid))  # the debugger's bodies
                for pk, row_salt in await tx.all("gdpr_subject_rows", account_id, uid):
                    await tx.run("gdpr_scrub", gdpr.subject_hash(str(row_salt), uid), int(pk))
            for aid in sorted(anonymous):
                rejections += await tx.run("erase_anonymous_rejections", account_id, aid)
                await tx.run("erase_rejection_examples", account_id, aid, aid)
                await tx.run("erase_refusals", account_id, aid, json_text(aid))
            outboxed = await self._erase_outbox(tx, account_id, sorted(users), now)
            if outboxed is None:
                raise _InFlight()  # rolls this transaction back
            if stats != (0, 0) or events:
                await tx.run("stats_adjust", account_id, stats[0], stats[1], -events)
            await tx.run("gdpr_done", now, request_pk)
            erasure = Erasure(account_id, request_id, gdpr.subject_hash(salt, user_id), profiles, identities,
                              events, devices, rejections, merges, outboxed)  # fmt: skip
            detail = (
                f"subject: sha256 {erasure.subject_hash} (salted; the salt stays with the request); removed "
                f"{_count(profiles, 'profile', 'profiles')}, {_count(identities, 'identity', 'identities')}, "
                f"{_count(events, 'event', 'events')}, {_count(devices, 'device', 'devices')}, "
                f"{_count(rejections, 'rejection', 'rejections')}, "
                f"{_count(merges, 'merge ledger entry', 'merge ledger entries')}, "
                f"{_count(outboxed, 'messaging transaction', 'messaging transactions')}"
            )
            await _audit(tx, SYSTEM, account_id, now, gdpr.AUDIT_ERASE, request_id, detail)
        log.info("GDPR erasure %s of account %d done", request_id, account_id, extra={"action": "gdpr_erasure"})
        return erasure, users, anonymous
