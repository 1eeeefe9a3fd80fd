"""Delivery channels: email over SMTP (aiosmtplib) and signed webhooks (httpx2).

Email: `smtp://[USER[:PASSWORD]@]HOST[:PORT]` upgrades to TLS with STARTTLS when the server offers it
(port 25 by default), `smtp+starttls://` requires STARTTLS (587), `smtps://` is TLS from the first byte
(465). User and password (percent-encoded in the URL) authenticate with AUTH after TLS. `?cafile=PATH`
trusts a private CA's certificate. The URL is checked and redacted by rules/channel_config.py.

Webhook: an HTTP POST of a JSON body with `X-OpenEngage-Timestamp` (Unix seconds) and
`X-OpenEngage-Signature: v1=HEX`, HEX being HMAC-SHA256 of `TIMESTAMP.BODY` under the channel's secret.
A receiver recomputes it, compares in constant time, and refuses timestamps more than 5 minutes away
(docs/messaging.md has the recipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import hmac
import ssl
import time
from email.header import Header
from email.mime.text import MIMEText

import aiosmtplib
import httpx2 as httpx

from openengage.errors import ConfigError
from openengage.rules.channel_config import SmtpTarget, check_address

SMTP_TIMEOUT = 30.0
WEBHOOK_TIMEOUT = 15.0
IDLE_SECONDS = 30.0  # an SMTP connection unused this long is closed
SIGNATURE_HEADER = "X-OpenEngage-Signature"
TIMESTAMP_HEADER = "X-OpenEngage-Timestamp"


class DeliveryError(Exception):
    """A delivery attempt failed. `permanent`: trying again cannot help (a 5xx SMTP reply, a 4xx webhook)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# ---------------------------------------------------------------- email


def message_id(txn_id: str, sender: str, suffix: str = "") -> str:
    """`<txnId@domain of From>`: a resend of the same message has the same Message-ID. Characters a
    Message-ID cannot hold are percent-escaped (a txnId is a client's string)."""
    local = "".join(c if c.isascii() and (c.isalnum() or c in "-._~!$&'*+=^`{|}") else f"%{ord(c):02X}" for c in txn_id)
    domain = sender.rsplit("@", 1)[-1]
    return f"<{local}{suffix}@{domain}>"


def build_email(sender: str, to: str, subject: str, body: str, html: bool, msg_id: str) -> MIMEText:
    """One text or HTML part, UTF-8. The stdlib's compat32 message: a fifth of the CPU of EmailMessage's
    header registry, which matters at hundreds of messages a second. It does not check header values, so
    everything going into one is checked first: addresses (`check_address`), the subject (one line)."""
    for address in (sender, to):
        try:
            check_address(address)
        except ConfigError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
    if "\r" in subject or "\n" in subject or "\r" in msg_id or "\n" in msg_id:
        raise DeliveryError("a header value holds a line break", permanent=True)
    msg = MIMEText(body, "html" if html else "plain", "utf-8")
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8", header_name="Subject").encode()
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = msg_id
    return msg


def _tls_context(target: SmtpTarget) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=target.cafile)


class SmtpPool:
    """Open SMTP connections kept per server, so a burst of messages does not pay a handshake each.
    A connection that fails is dropped; the next message opens a new one."""

    def __init__(self, timeout: float = SMTP_TIMEOUT) -> None:
        self.timeout = timeout
        self._idle: dict[SmtpTarget, list[tuple[aiosmtplib.SMTP, float]]] = {}

    async def _connect(self, target: SmtpTarget) -> aiosmtplib.SMTP:
        start_tls: bool | None = {"auto": None, "starttls": True, "implicit": False}[target.tls]
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            timeout=self.timeout,
            use_tls=target.tls == "implicit",
            start_tls=start_tls,
            tls_context=_tls_context(target),
        )
        await client.connect()
        if target.username is not None:
            try:
                await client.login(target.username, target.password or "")
            except BaseException:  # refused (535), or cut: the caller never sees this client, close it here
                client.close()
                raise
        return client

    async def send(self, target: SmtpTarget, msg: MIMEText) -> None:
        client = self._take(target)
        fresh = client is None
        try:
            if client is None:
                client = await self._connect(target)
            try:
                await client.send_message(msg)
            except aiosmtplib.SMTPServerDisconnected:
                if fresh:
                    raise
                client = await self._connect(target)  # a kept connection the server closed meanwhile
                await client.send_message(msg)
        except aiosmtplib.SMTPResponseException as exc:
            await self._close(client)
            permanent = 500 <= exc.code < 600
            raise DeliveryError(f"SMTP {exc.code}: {exc.message}", permanent) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self._close(client)
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(f"SMTP refused the recipient: {exc}", all(500 <= c < 600 for c in codes)) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._close(client)
            raise DeliveryError(f"SMTP {target.host}:{target.port}: {type(exc).__name__}: {exc}") from None
        self._idle.setdefault(target, []).append((client, time.monotonic()))

    def _take(self, target: SmtpTarget) -> aiosmtplib.SMTP | None:
        idle = self._idle.get(target) or []
        while idle:
            client, since = idle.pop()
            if client.is_connected and time.monotonic() - since < IDLE_SECONDS:
                return client
            client.close()
        return None

    @staticmethod
    async def _close(client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            client.close()

    async def close(self) -> None:
        for idle in self._idle.values():
            for client, _ in idle:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                    if client.is_connected:
                        await asyncio.wait_for(client.quit(), 2)
        self._idle.clear()


# ---------------------------------------------------------------- webhook


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY` under `secret`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None, tolerance: int = 300
) -> bool:
    """What a receiver does (and the tests' receiver): a fresh timestamp and the same signature."""
    if not timestamp.isdigit() or abs((now if now is not None else time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


async def post_webhook(
    client: httpx.AsyncClient, url: str, secret: str | None, body: bytes, txn_id: str, timeout: float = WEBHOOK_TIMEOUT
) -> None:
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp), "X-OpenEngage-Txn-Id": txn_id}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from None
    if 200 <= response.status_code < 300:
        return
    # 4xx: the receiver refused this body, again would be the same; but 408 and 429 ask to come back later.
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
    raise DeliveryError(f"webhook answered HTTP {response.status_code}", permanent)
