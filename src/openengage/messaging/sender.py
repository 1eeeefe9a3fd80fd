"""The sender: delivers the outbox's messages, one node per message, with retries until the ttl.

`serve` runs it in a child process of its own (`openengage-sender`), next to the API workers and the
processor. Its loop: claim due messages (`Store.claim_messages`: a lease of `lease_seconds` for this
sender alone; on PostgreSQL nodes claim side by side with SKIP LOCKED), render each (rules/templates.py),
deliver it (messaging/channels.py), and record the outcome with its system events in one commit
(`Store.finish_messages`; outcomes that finish together share a commit). A sender that dies mid-send
holds its lease until it runs out; then any sender takes the message over, so a message is sent
again only when a sender died (or stalled past the lease) between the server's acceptance and the
commit: the email keeps its Message-ID (`<txnId@domain>`), so that resend is recognisable.

Failures: a permanent one (an SMTP 5xx, a webhook 4xx, nobody to send to) fails the message at once; any
other is retried after an exponential pause with jitter (1 s, 2 s, 4 s, ... at most 60 s, each times
0.5-1) while the transaction's ttl lasts, then the message expires. In a fallback chain the next campaign
is queued when a message fails (`fallback_on_attempt_failure`: at its first failed attempt;
`fallback_on_delivery_failure`: once it has failed for good); a sent message skips the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import secrets
import time
from typing import Any

import httpx2 as httpx
import msgspec

from openengage import metrics
from openengage.errors import StoreUnavailable
from openengage.messaging import channels
from openengage.messaging.channels import DeliveryError
from openengage.records import encode_records
from openengage.rules import gdpr, templates
from openengage.rules.channel_config import parse_smtp_url
from openengage.rules.dates import format_ms, now_ms
from openengage.rules.system_events import delivery_event
from openengage.store.base import Campaign, Channel, Finish, Outgoing, Store

log = logging.getLogger("openengage.sender")

RETRY_FIRST = 1.0  # seconds before the second attempt; doubles
RETRY_MAX = 60.0
POLL_SECONDS = 0.2
CHANNEL_CACHE_SECONDS = 1.0  # a changed channel is used within a second
ERROR_CHARS = 500


class Withheld(Exception):
    """The user may not be messaged (GDPR restriction, or a due erasure): the message is skipped."""


def retry_pause(attempts: int, first: float = RETRY_FIRST, cap: float = RETRY_MAX) -> float:
    """Seconds before the next attempt after `attempts` failed ones: exponential, capped, jittered."""
    return float(min(cap, first * 2 ** min(attempts - 1, 30)) * (0.5 + random.random() / 2))


def after_failure(m: Outgoing, error: str, permanent: bool, now: int, pause: float) -> Finish:
    """What a failed attempt leads to (pure): retry, fail (and fall back), or expire."""
    fallback = m.mode.startswith("fallback")
    if permanent or m.mode == "fallback_on_attempt_failure":
        return Finish("failed", "failed", error, now, promote=fallback)
    next_at = now + int(pause * 1000)
    if next_at >= m.expires_at:
        return Finish("expired", "failed", error, now, close="expired", close_detail="the ttl ran out")
    return Finish("queued", "failed", error, next_at)


class Sender:
    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float = 60.0,
        concurrency: int = 16,
        poll_seconds: float = POLL_SECONDS,
        retry_first: float = RETRY_FIRST,
        retry_max: float = RETRY_MAX,
    ) -> None:
        self.store = store
        self.owner = f"sender-{secrets.token_hex(6)}"
        self.lease_ms = int(lease_seconds * 1000)
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.retry_first = retry_first
        self.retry_max = retry_max
        # Every network call ends well within the lease, so a live sender never loses a message it is sending.
        self.timeout = min(channels.SMTP_TIMEOUT, lease_seconds / 3)
        self.smtp = channels.SmtpPool(self.timeout)
        self.http = httpx.AsyncClient(follow_redirects=False)
        self._campaigns: dict[tuple[int, int], Campaign | None] = {}
        self._channels: dict[tuple[int, str], tuple[float, Channel | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[Outgoing, Finish, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    async def close(self) -> None:
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
            self._recorder = None
        await self.smtp.close()
        await self.http.aclose()

    # ------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event, grace: float = 5.0) -> None:
        """Deliver until `stop` is set; then let deliveries in flight finish for up to `grace` seconds
        (the rest are cancelled: their leases run out and another sender, or this one restarted, retries)."""
        failures = 0
        while not stop.is_set():
            free = self.concurrency - len(self._tasks)
            if self._tasks and free < max(1, self.concurrency // 2):
                # Claim in batches (a claim is a commit): wait until half the slots are free.
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            claimed: list[Outgoing] = []
            if free > 0:
                try:
                    claimed = await self.store.claim_messages(self.owner, free, self.lease_ms)
                    failures = 0
                except StoreUnavailable as exc:
                    failures += 1
                    pause = min(5.0, 0.1 * 2**failures)
                    log.warning("store unavailable (%s); retrying in %.1f s", exc, pause, extra={"action": "sender"})
                    await _sleep(stop, pause)
                    continue
                except Exception:
                    log.exception("claiming messages failed", extra={"action": "sender"})
                    await _sleep(stop, 1.0)
                    continue
            for m in claimed:
                task = asyncio.get_running_loop().create_task(self.deliver(m))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if len(claimed) < free:  # nothing more is due now
                await _sleep(stop, self.poll_seconds)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def drain(self, limit: int = 1000) -> int:
        """Deliver every message due now (tests, the bench): the number of messages attempted."""
        done = 0
        while done < limit:
            claimed = await self.store.claim_messages(self.owner, self.concurrency, self.lease_ms)
            if not claimed:
                return done
            await asyncio.gather(*(self.deliver(m) for m in claimed))
            done += len(claimed)
        return done

    # ------------------------------------------------------------ one message

    async def deliver(self, m: Outgoing) -> None:
        try:
            finish = await self._attempt(m)
        except asyncio.CancelledError:
            raise
        except StoreUnavailable as exc:  # a read before the send failed: nothing went out, nothing to record
            log.warning(
                "message %d: store unavailable (%s); retried once its lease runs out",
                m.id,
                exc,
                extra={"action": "sender"},
            )
            return
        except Exception as exc:  # a bug must not kill the loop: retried like a transient failure
            log.exception("delivering message %d failed", m.id, extra={"action": "sender"})
            finish = self._failed(m, f"internal error: {type(exc).__name__}", False)
        metrics.MESSAGE_ATTEMPTS.labels(m.channel, finish.status if finish.status != "queued" else "retry").inc()
        await self._finish(m, finish)

    async def _attempt(self, m: Outgoing) -> Finish:
        now = now_ms()
        if now >= m.expires_at:
            return self._with_event(
                m,
                Finish(
                    "expired",
                    "expired",
                    "the ttl ran out before it could be sent",
                    now,
                    close="expired",
                    close_detail="the ttl ran out",
                ),
            )
        try:
            await self._send(m)
        except Withheld as exc:
            # Nothing was sent; no timeline event either (a restricted user's new data is dropped, an
            # erased user's goes with the erasure). The rest of a fallback chain is withheld alike.
            why = f"not sent: {exc}"
            return Finish("skipped", "failed", why, now_ms(), close="skipped", close_detail=why)
        except DeliveryError as exc:
            return self._failed(m, str(exc), exc.permanent)
        except templates.RenderError as exc:
            return self._failed(m, str(exc), True)
        sent = Finish("sent", "sent", None, now_ms(), close="skipped", close_detail="an earlier campaign was sent")
        return self._with_event(m, sent)

    def _failed(self, m: Outgoing, error: str, permanent: bool) -> Finish:
        error = error[:ERROR_CHARS]
        pause = retry_pause(m.attempts + 1, self.retry_first, self.retry_max)
        return self._with_event(m, after_failure(m, error, permanent, now_ms(), pause))

    def _with_event(self, m: Outgoing, f: Finish) -> Finish:
        """The system event of an outcome: <channel>_sent, or <channel>_failed once it failed for good."""
        if f.status == "sent":
            name = f"{m.channel}_sent"
        elif f.status in ("failed", "expired"):
            name = f"{m.channel}_failed"
        else:
            return f
        data: dict[str, Any] = {"txnId": m.txn_id, "experimentId": m.experiment_id, "attempts": m.attempts + 1}
        if f.status != "sent":
            data["reason"] = f.status
            data["error"] = f.error or ""
        record = delivery_event(name, m.user_id, data)
        return dataclasses.replace(f, payload=encode_records([record]), records=1)

    async def _finish(self, m: Outgoing, f: Finish) -> None:
        """Record the outcome; through a store outage, keep trying while the lease lasts (after it, the
        message is another sender's: it will be attempted again)."""
        deadline = time.monotonic() + self.lease_ms / 1000 * 0.8
        pause = 0.1
        while True:
            try:
                if not await self._record(m, f):
                    log.warning(
                        "message %d: lease lost before its outcome was recorded", m.id, extra={"action": "sender"}
                    )
                elif f.status == "sent":
                    self.sent += 1
                elif f.status != "queued":
                    self.failed += 1
                return
            except StoreUnavailable as exc:
                if time.monotonic() + pause > deadline:
                    log.error("message %d: could not record its outcome (%s)", m.id, exc, extra={"action": "sender"})
                    return
            except Exception:  # a bug: the lease runs out and the message is attempted again
                log.exception("message %d: recording its outcome failed", m.id, extra={"action": "sender"})
                return
            await asyncio.sleep(pause)  # only after a StoreUnavailable: every other path returned
            pause = min(2.0, pause * 2)

    async def _record(self, m: Outgoing, f: Finish) -> bool:
        """Hand an outcome to the recorder: outcomes that arrive while a commit is in flight share the next."""
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.get_running_loop().create_task(self._recording())
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._outcomes.append((m, f, fut))
        self._wake.set()
        return await fut

    async def _recording(self) -> None:
        while True:
            if not self._outcomes:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                results = await self.store.finish_messages([(m, f) for m, f, _ in batch])
            except Exception as exc:  # every waiter gets the error (StoreUnavailable: they retry)
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, _, fut), ok in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(ok)

    # ------------------------------------------------------------ rendering and delivery

    async def _campaign(self, m: Outgoing) -> Campaign:
        key = (m.account_id, m.campaign_id)
        if key not in self._campaigns:  # a campaign's content never changes once saved
            self._campaigns[key] = await self.store.campaign_by_id(m.account_id, m.campaign_id)
        campaign = self._campaigns[key]
        if campaign is None:
            raise DeliveryError(f"campaign {m.experiment_id} no longer exists", permanent=True)
        return campaign

    async def _channel(self, account_id: int, kind: str) -> Channel:
        key = (account_id, kind)
        cached = self._channels.get(key)
        if cached is None or time.monotonic() - cached[0] > CHANNEL_CACHE_SECONDS:
            cached = (time.monotonic(), await self.store.channel(account_id, kind))
            self._channels[key] = cached
        if cached[1] is None:
            raise DeliveryError(f"the account has no {kind} channel set up")  # transient: it may be set up
        return cached[1]

    async def _send(self, m: Outgoing) -> None:
        campaign = await self._campaign(m)
        channel = await self._channel(m.account_id, m.channel)
        profile = await self.store.profile(m.account_id, "u", m.user_id)
        if profile is None:
            raise DeliveryError(f"user '{m.user_id}' no longer exists", permanent=True)
        system, attributes = profile.data.system, profile.data.attributes
        token = m.data.get("token") or {}
        context = {
            "user": templates.user_context(m.user_id, system, attributes),
            "token": token,
            "campaign": {"id": campaign.code, "name": campaign.name},
        }
        rendered = templates.render(campaign.subject, campaign.body, campaign.html, context)
        # Checked last before the network: a restriction registered, or an erasure fallen due, up to now
        # keeps the message from going out (docs/messaging.md "GDPR").
        block = await self.store.gdpr_block(m.account_id, m.user_id, now_ms())
        if block is not None:
            raise Withheld(gdpr.block_reason(block))
        if m.channel == "email":
            to = m.data.get("email") or system.get("email")
            if not to:
                raise DeliveryError("the user has no email address", permanent=True)
            if system.get("emailOptIn") is False:
                raise DeliveryError("the user opted out of email", permanent=True)
            sender = channel.config["from"]
            suffix = f".{m.seq}" if m.mode not in ("single",) and m.seq else ""
            msg = channels.build_email(
                sender,
                to,
                rendered.subject,
                rendered.body,
                rendered.html,
                channels.message_id(m.txn_id, sender, suffix),
            )
            await self.smtp.send(parse_smtp_url(channel.config["smtp_url"]), msg)
        else:
            body = msgspec.json.encode(
                {
                    "txnId": m.txn_id,
                    "experimentId": m.experiment_id,
                    "campaignName": campaign.name,
                    "userId": m.user_id,
                    "subject": rendered.subject,
                    "body": rendered.body,
                    "html": rendered.html,
                    "token": token,
                    "user": context["user"],
                    "attempt": m.attempts + 1,
                    "sentAt": format_ms(now_ms()),
                }
            )
            await channels.post_webhook(self.http, channel.config["url"], channel.secret, body, m.txn_id, self.timeout)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
