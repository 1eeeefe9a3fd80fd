"""Messaging on a cluster: two `openengage serve` nodes over one PostgreSQL, each with its sender. Every
transaction accepted by either node is delivered exactly once, and a rate limit holds across nodes."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support import backends
from tests.support.server import Server, cli, wait_processed
from tests.support.smtp import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backends.require("postgres")
    with backends.fresh_database("postgres", tmp_path) as url:
        yield url


@pytest.mark.timeout(180)
def test_two_nodes_deliver_each_message_exactly_once(pg_url: str, tmp_path: Path) -> None:
    with SmtpSink() as sink:
        creds = json.loads(
            cli("accounts", "create", "shop", "--json", "--rate-limit", "transactions=0", database_url=pg_url).stdout
        )
        lc, headers = creds["license_code"], {"Authorization": f"Bearer {creds['api_key']}"}
        cli("channels", "set", lc, "email", "--smtp-url", sink.url, "--from", "o@shop.test", database_url=pg_url)
        body = tmp_path / "b.txt"
        body.write_text("{{ token.n }}")
        code = cli(
            "campaigns",
            "create",
            lc,
            "--name",
            "c",
            "--channel",
            "email",
            "--subject",
            "n {{ token.n }}",
            "--body-file",
            str(body),
            database_url=pg_url,
        ).stdout.strip()
        cli("campaigns", "start", lc, code, database_url=pg_url)
        servers = [Server(pg_url, args=("--workers", "2")), Server(pg_url)]
        clients: list[httpx.Client] = []
        try:
            for server in servers:
                clients.append(httpx.Client(base_url=server.start().base, timeout=30))
            users = 8
            for u in range(users):
                r = clients[u % 2].post(
                    f"/v1/accounts/{lc}/users", json={"userId": f"u{u}", "email": f"u{u}@x.test"}, headers=headers
                )
                assert r.status_code == 201
            wait_processed(clients[0], lc, creds["api_key"])
            total = 120

            def send(n: int) -> None:
                r = clients[n % 2].post(
                    f"/v2/accounts/{lc}/experiments/{code}/transaction",
                    json={
                        "userId": f"u{n % users}",
                        "txnId": f"t{n}",
                        "overrideData": {"context": {"token": {"n": n}}},
                    },
                    headers=headers,
                )
                assert r.status_code == 200, r.text

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(send, range(total)))
            sink.wait(total, timeout=120)
            time.sleep(2)  # a second delivery of any of them would show up by now
            ids = Counter(str(m["Message-ID"]) for m in sink.messages)
            assert len(sink.messages) == total and set(ids) == {f"<t{n}@shop.test>" for n in range(total)}
            for n in range(0, total, 7):
                doc = clients[1].get(f"/v2/accounts/{lc}/transactions/t{n}", headers=headers).json()["response"]["data"]
                assert doc["status"] == "sent" and len(doc["messages"][0]["attempts"]) == 1
        finally:
            for client in clients:
                client.close()
            for server in servers:
                server.stop()


@pytest.mark.timeout(120)
def test_the_transaction_limit_holds_across_nodes(pg_url: str, tmp_path: Path) -> None:
    creds = json.loads(
        cli("accounts", "create", "shop", "--json", "--rate-limit", "transactions=10", database_url=pg_url).stdout
    )
    lc, headers = creds["license_code"], {"Authorization": f"Bearer {creds['api_key']}"}
    cli(
        "channels", "set", lc, "email", "--smtp-url", "smtp://127.0.0.1:1", "--from", "o@shop.test", database_url=pg_url
    )
    body = tmp_path / "b.txt"
    body.write_text("x")
    code = cli(
        "campaigns",
        "create",
        lc,
        "--name",
        "c",
        "--channel",
        "email",
        "--subject",
        "s",
        "--body-file",
        str(body),
        database_url=pg_url,
    ).stdout.strip()
    cli("campaigns", "start", lc, code, database_url=pg_url)
    servers = [Server(pg_url, args=("--no-sender",)), Server(pg_url, args=("--no-sender",))]
    clients = [httpx.Client(base_url=s.start().base, timeout=30) for s in servers]
    try:
        r = clients[0].post(f"/v1/accounts/{lc}/users", json={"userId": "u", "email": "u@x.test"}, headers=headers)
        assert r.status_code == 201
        wait_processed(clients[0], lc, creds["api_key"])

        def send(n: int) -> int:
            url = f"/v2/accounts/{lc}/experiments/{code}/transaction"
            return clients[n % 2].post(url, json={"userId": "u"}, headers=headers).status_code

        left = 60 - time.time() % 60  # the 30 sends fall in one per-minute window (they take < 2 s)
        if left < 8:
            time.sleep(left + 0.1)
        with ThreadPoolExecutor(8) as pool:
            statuses = Counter(pool.map(send, range(30)))
        assert statuses == {200: 10, 429: 20}
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()
