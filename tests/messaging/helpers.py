"""In-process messaging: the app on a real store, a real SMTP server, the sender driven by hand."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

from openengage.messaging.sender import Sender
from openengage.rules.channel_config import email_config, webhook_config
from openengage.store.base import Campaign
from tests.support.harness import Harness
from tests.support.smtp import SmtpSink

SENDER = "shop@acme.test"


class Messaging:
    def __init__(self, api: Harness, sink: SmtpSink | None = None) -> None:
        self.api = api
        self.sink = sink
        self.sender = Sender(api.store, lease_seconds=30, retry_first=0.05, retry_max=0.2)

    @property
    def account_id(self) -> int:
        return self.api.creds.account_id

    def email_channel(self, url: str | None = None, sender: str = SENDER) -> None:
        assert url or self.sink is not None
        config = email_config(url or (self.sink.url if self.sink else ""), sender)

        async def run() -> None:
            await self.api.store.set_channel(self.account_id, "email", config, None)

        self.api.call(run)

    def webhook_channel(self, url: str, secret: str | None) -> None:
        async def run() -> None:
            await self.api.store.set_channel(self.account_id, "webhook", webhook_config(url), secret)

        self.api.call(run)

    def campaign(
        self,
        subject: str = "Hi {{ user.firstName }}",
        body: str = "Order {{ token.orderId }}",
        *,
        html: bool = False,
        channel: str = "email",
        start: bool = True,
    ) -> str:
        async def run() -> Campaign:
            created = await self.api.store.create_campaign(self.account_id, "c", channel, subject, body, html)
            if start:
                created = await self.api.store.set_campaign_status(self.account_id, created.code, "running")
            return created

        return self.api.call(run).code

    def user(self, user_id: str, **fields: Any) -> None:
        r = self.api.post("/users", {"userId": user_id, **fields})
        assert r.status_code == 201, r.text
        self.api.drain()

    def trigger(
        self,
        code: str,
        body: dict[str, Any] | None = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        h = {"Content-Type": "application/json", **self.api.auth(key), **(headers or {})}
        url = f"/v2/accounts/{self.api.lc}/experiments/{code}/transaction"
        if content is not None:
            return self.api.client.post(url, content=content, headers=h)
        return self.api.client.post(url, json=body, headers=h)

    def multi(self, codes: list[str], mode: str, body: dict[str, Any]) -> httpx.Response:
        params = [("campaignIds", c) for c in codes] + [("mode", mode)]
        return self.api.client.post(
            f"/v2/accounts/{self.api.lc}/transaction", params=params, json=body, headers=self.api.auth()
        )

    def status(self, txn_id: str) -> httpx.Response:
        from urllib.parse import quote

        return self.api.client.get(
            f"/v2/accounts/{self.api.lc}/transactions/{quote(txn_id, safe='')}", headers=self.api.auth()
        )

    def send(self) -> int:
        """Apply the log (the sender waits for it), then deliver everything due."""
        self.api.drain()
        done = self.api.call(self.sender.drain)
        self.api.drain()  # the outcomes' system events
        return done
