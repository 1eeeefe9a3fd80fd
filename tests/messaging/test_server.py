"""Messaging through real `openengage serve` processes: the sender child delivers over real SMTP, and
what was acknowledged is delivered after `kill -9` and a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support.server import Server, cli, wait_processed
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.slow

LEASE = {"OPENENGAGE_SENDER_LEASE": "3"}  # a killed sender's messages are taken over within 3 s
# SMTP calls time out at a third of the lease: 3 s leaves ample time to kill the server mid-send
SLOW_LEASE = {"OPENENGAGE_SENDER_LEASE": "9"}


class Shop:
    """An account with an email channel to `sink`, a running campaign and a user, set up with the CLI."""

    def __init__(self, url: str, sink: SmtpSink, tmp_path: Path) -> None:
        self.url = url
        cli("migrate", database_url=url)
        creds = json.loads(cli("accounts", "create", "shop", "--json", database_url=url).stdout)
        self.lc, self.key = creds["license_code"], creds["api_key"]
        cli("channels", "set", self.lc, "email", "--smtp-url", sink.url, "--from", "orders@shop.test", database_url=url)
        body = tmp_path / "body.txt"
        body.write_text("Your order {{ token.orderId }}, {{ user.firstName }}.\n")
        self.campaign = cli(
            "campaigns",
            "create",
            self.lc,
            "--name",
            "Order",
            "--channel",
            "email",
            "--subject",
            "Order {{ token.orderId }}",
            "--body-file",
            str(body),
            database_url=url,
        ).stdout.strip()
        cli("campaigns", "start", self.lc, self.campaign, database_url=url)
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def add_user(self, client: httpx.Client, user_id: str) -> None:
        body = {"userId": user_id, "firstName": "Ann", "email": f"{user_id}@example.com"}
        assert client.post(f"/v1/accounts/{self.lc}/users", json=body, headers=self.headers).status_code == 201
        wait_processed(client, self.lc, self.key)

    def trigger(self, client: httpx.Client, user_id: str, order: str, **extra: Any) -> dict[str, Any]:
        body = {"userId": user_id, "txnId": order, "overrideData": {"context": {"token": {"orderId": order}}}, **extra}
        r = client.post(
            f"/v2/accounts/{self.lc}/experiments/{self.campaign}/transaction", json=body, headers=self.headers
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["response"]["data"]
        return data

    def status(self, client: httpx.Client, txn_id: str) -> dict[str, Any]:
        r = client.get(f"/v2/accounts/{self.lc}/transactions/{txn_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["response"]["data"]
        return data


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def wait_status(client: httpx.Client, shop: Shop, txn_id: str, wanted: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = shop.status(client, txn_id)
        if doc["status"] == wanted or time.monotonic() > deadline:
            assert doc["status"] == wanted, doc
            return doc
        time.sleep(0.1)


@pytest.mark.timeout(120)
def test_serve_delivers_and_records_the_events(database_url: str, sink: SmtpSink, tmp_path: Path) -> None:
    shop = Shop(database_url, sink, tmp_path)
    with Server(database_url, env=LEASE) as server, httpx.Client(base_url=server.base, timeout=30) as client:
        shop.add_user(client, "ann")
        shop.trigger(client, "ann", "A-1")
        (msg,) = sink.wait(1)
        assert (msg["Subject"], msg["Message-ID"], msg["To"]) == ("Order A-1", "<A-1@shop.test>", "ann@example.com")
        assert msg.get_content().strip() == "Your order A-1, Ann."
        wait_status(client, shop, "A-1", "sent")
        wait_processed(client, shop.lc, shop.key)
        events = client.get(f"/v1/accounts/{shop.lc}/users/ann/events", headers=shop.headers).json()
        assert [e["eventName"] for e in events["response"]["data"]["events"]] == ["email_sent", "email_queued"]
        metrics = client.get("/metrics").text
        assert 'openengage_message_attempts_total{channel="email",outcome="sent"} 1.0' in metrics


@pytest.mark.timeout(150)
def test_an_acknowledged_send_survives_kill_9_and_is_delivered_once(
    database_url: str, sink: SmtpSink, tmp_path: Path
) -> None:
    shop = Shop(database_url, sink, tmp_path)
    server = Server(database_url, env=LEASE).start()
    try:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            shop.add_user(client, "ann")
            sink.stop()  # nothing can be delivered between the 200 and the kill
            for n in range(5):
                shop.trigger(client, "ann", f"K-{n}")
        server.kill()
        sink.start()
        server = Server(database_url, env=LEASE).start()
        with httpx.Client(base_url=server.base, timeout=30) as client:
            for n in range(5):
                wait_status(client, shop, f"K-{n}", "sent")
        time.sleep(1)
        ids = sorted(str(m["Message-ID"]) for m in sink.messages)
        assert ids == [f"<K-{n}@shop.test>" for n in range(5)]
    finally:
        server.stop()


@pytest.mark.timeout(150)
def test_a_sender_killed_mid_send_loses_its_lease_and_the_resend_keeps_the_message_id(
    database_url: str, sink: SmtpSink, tmp_path: Path
) -> None:
    shop = Shop(database_url, sink, tmp_path)
    server = Server(database_url, env=SLOW_LEASE).start()
    try:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            shop.add_user(client, "ann")
            sink.stall = True  # the server keeps the message but never answers 250
            shop.trigger(client, "ann", "S-1")
            sink.wait(1)
        server.kill()  # after SMTP has the message, before the sender could commit its outcome
        sink.stall = False
        server = Server(database_url, env=SLOW_LEASE).start()
        with httpx.Client(base_url=server.base, timeout=30) as client:
            doc = wait_status(client, shop, "S-1", "sent")
        # The one resend SMTP cannot rule out, recognisable by its Message-ID.
        assert [str(m["Message-ID"]) for m in sink.messages] == ["<S-1@shop.test>"] * 2
        assert [a["outcome"] for a in doc["messages"][0]["attempts"]] == ["sent"]
    finally:
        server.stop()


@pytest.mark.timeout(120)
def test_sigterm_stops_the_sender_cleanly(database_url: str, sink: SmtpSink, tmp_path: Path) -> None:
    shop = Shop(database_url, sink, tmp_path)
    server = Server(database_url, env=LEASE).start()
    with httpx.Client(base_url=server.base, timeout=30) as client:
        shop.add_user(client, "ann")
        shop.trigger(client, "ann", "T-1")
        sink.wait(1)
    assert server.proc is not None
    started = time.monotonic()
    server.stop()
    assert server.proc.returncode == 0, server.output()
    assert time.monotonic() - started < 10
