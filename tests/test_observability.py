"""Real servers: `/metrics` is the node's total whichever worker answers, `--log-format json` writes only
JSON lines, and a 500 leaves a keep-alive connection usable (uvicorn in-process, our protocol)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openengage.app import create_app
from openengage.serve import Server as UvicornServer
from openengage.serve import uvicorn_config
from openengage.settings import Settings
from tests.support import seeds
from tests.support.harness import prepare_store
from tests.support.server import Server, cli

pytestmark = pytest.mark.slow


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def account(url: str) -> dict[str, Any]:
    cli("migrate", database_url=url)
    created: dict[str, Any] = json.loads(
        cli("accounts", "create", "acme", "--json", "--rate-limit", "events=0", database_url=url).stdout
    )
    return created


def test_metrics_are_the_node_totals_with_two_workers_and_the_processor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    creds = account(url)
    lc, headers = creds["license_code"], {"Authorization": f"Bearer {creds['api_key']}"}
    with Server(url, args=("--workers", "2")) as server:
        sent = 40
        for _ in range(sent):  # a new connection each: the kernel spreads them over both workers
            r = httpx.post(f"{server.base}/v1/accounts/{lc}/events", json=seeds.EVENT, headers=headers)
            assert r.status_code == 201
        route = "/v1/accounts/{license_code}/events"
        deadline = time.monotonic() + 30
        while True:  # each worker writes its request counts once a second (api/observe.py)
            text = httpx.get(f"{server.base}/metrics").text
            settled = metric(text, "openengage_http_requests_total", route=route, status="201") == sent
            if (settled and metric(text, "openengage_processor_pending_records") == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for _ in range(10):  # whichever worker answers, the figures are the same totals
            text = httpx.get(f"{server.base}/metrics").text
            assert metric(text, "openengage_http_requests_total", route=route, status="201") == sent
            assert metric(text, "openengage_ingest_records_total", dialect="webengage") == sent
            assert metric(text, "openengage_ingest_commit_batch_records_sum") == sent
            assert metric(text, "openengage_processor_pending_records") == 0


def test_json_logs_are_one_object_a_line_without_secrets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    creds = account(url)
    env = {"OPENENGAGE_LOG_LEVEL": "debug"}
    with Server(url, args=("--log-format", "json"), env=env) as server:
        lc, key = creds["license_code"], creds["api_key"]
        httpx.post(
            f"{server.base}/v1/accounts/{lc}/events", json=seeds.EVENT, headers={"Authorization": f"Bearer {key}"}
        )
        time.sleep(0.5)
    lines = [line for line in server.lines if line.strip()]
    assert len(lines) > 3
    docs = [json.loads(line) for line in lines]  # every line, ours and uvicorn's, is a JSON object
    assert all({"time", "level", "logger", "message"} <= d.keys() for d in docs)
    assert any(d.get("action") == "processor_start" for d in docs)
    assert not any(key in line or creds["data_api_key"] in line for line in lines)


@pytest.fixture
def inprocess(tmp_path: Path) -> Iterator[tuple[int, Settings]]:
    """OpenEngage plus one failing route, under uvicorn with our protocol, on a thread."""
    settings = Settings.from_env({}, database_url=f"sqlite:///{tmp_path / 'oe.db'}")
    asyncio.run(prepare_store(settings))
    app = create_app(settings)

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/boom", boom))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = UvicornServer(uvicorn_config(settings, app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    port = sock.getsockname()[1]
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield port, settings
    server.should_exit = True
    thread.join(15)


def test_a_500_keeps_the_keep_alive_connection_usable(inprocess: tuple[int, Settings]) -> None:
    port, _ = inprocess
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 500 ") and b"connection: close" not in first.lower()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # same connection
        second = sock.recv(65536)
        assert second.startswith(b"HTTP/1.1 200 "), second
