"""A test message through a channel, sent now (not through the outbox): the CLI's `channels test` and the
dashboard's "Send a test message" (wired by app.py)."""

from __future__ import annotations

import time

import httpx2 as httpx
import msgspec

from openengage.errors import OpenEngageError
from openengage.messaging import channels
from openengage.messaging.channels import DeliveryError
from openengage.rules.channel_config import check_address, parse_smtp_url
from openengage.rules.dates import format_ms, now_ms
from openengage.store.base import Channel


class TestFailed(OpenEngageError):
    """The test message could not be delivered (the message says why)."""

    __test__ = False  # not a pytest class, whatever its name


async def send_test(channel: Channel, to: str | None, license_code: str) -> str:
    """What happened, in one line; TestFailed when the server refused or could not be reached."""
    txn_id = f"test-{int(time.time() * 1000)}"
    try:
        if channel.kind == "email":
            if not to:
                raise TestFailed("a test email needs an address to send to")
            check_address(to)
            sender = channel.config["from"]
            msg = channels.build_email(
                sender,
                to,
                "OpenEngage test message",
                f"This is a test message from OpenEngage (account {license_code}), sent {format_ms(now_ms())}.\n",
                False,
                channels.message_id(txn_id, sender),
            )
            pool = channels.SmtpPool()
            try:
                await pool.send(parse_smtp_url(channel.config["smtp_url"]), msg)
            finally:
                await pool.close()
            return f"test email sent to {to} through {channel.config.get('smtp_display', '')}"
        body = msgspec.json.encode(
            {"test": True, "txnId": txn_id, "licenseCode": license_code, "sentAt": format_ms(now_ms())}
        )
        async with httpx.AsyncClient(follow_redirects=False) as client:
            await channels.post_webhook(client, channel.config["url"], channel.secret, body, txn_id)
        return f"test webhook accepted by {channel.config['url']}"
    except DeliveryError as exc:
        raise TestFailed(f"the test message failed: {exc}") from None
