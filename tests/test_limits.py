"""Limits a public server needs, against a real `openengage serve` (uvicorn, httptools, the real socket).

Each test failed before the limits existed: a huge header was buffered whole, idle and trickling
connections were never closed, a refused upload was read to its end, connections were not capped.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.support import seeds
from tests.support.server import Server, cli

pytestmark = pytest.mark.slow

LIMITS = {
    "OPENENGAGE_MAX_HEADER_BYTES": "8192",
    "OPENENGAGE_KEEP_ALIVE_TIMEOUT": "1",
    "OPENENGAGE_READ_TIMEOUT": "2",
    "OPENENGAGE_MAX_CONNECTIONS": "40",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", database_url=url).stdout)
    with Server(url, env=LIMITS) as server:
        yield server, creds


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    return sock


def read_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout` passes)."""
    sock.settimeout(timeout)
    chunks = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection within `within` seconds (reading what it sends)."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def post_event(server: Server, creds: dict[str, Any]) -> int:
    r = httpx.post(
        f"{server.base}/v1/accounts/{creds['license_code']}/events",
        json=seeds.EVENT,
        headers={"Authorization": f"Bearer {creds['api_key']}"},
        timeout=10,
    )
    return r.status_code


def test_a_huge_header_is_refused_with_431_without_being_buffered(served: tuple[Server, dict[str, Any]]) -> None:
    server, creds = served
    sock = connect(server)
    sock.sendall(b"POST /v1/accounts/x/events HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    answer = b""
    try:
        for _ in range(48 * 16):  # up to 48 MB, 64 KiB at a time; the server stops us long before
            sock.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert sent < 8 * 1024 * 1024, "the server kept reading the header"
    assert post_event(server, creds) == 201  # and nobody else was held up


def test_a_connection_that_sends_nothing_is_closed(served: tuple[Server, dict[str, Any]]) -> None:
    server, _ = served
    socks = [connect(server) for _ in range(20)]
    try:
        assert all(closed_by_server(s, within=10) for s in socks)
    finally:
        for s in socks:
            s.close()


def test_an_idle_keep_alive_connection_is_closed(served: tuple[Server, dict[str, Any]]) -> None:
    server, _ = served
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed_by_server(sock, within=10)
    sock.close()


def test_a_head_that_trickles_in_is_cut_off_with_408(served: tuple[Server, dict[str, Any]]) -> None:
    server, _ = served
    sock = connect(server)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    started = time.monotonic()
    answer = b""
    for byte in head:  # one byte every 0.1 s: the head would take 12 s
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        sock.settimeout(0.1)
        with contextlib.suppress(TimeoutError):
            answer += sock.recv(65536)
        if answer:
            break
    answer += read_all(sock, timeout=5)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 10


def test_a_body_that_stalls_is_cut_off(served: tuple[Server, dict[str, Any]]) -> None:
    server, creds = served
    sock = connect(server)
    sock.sendall(
        f"POST /v1/accounts/{creds['license_code']}/events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {creds['api_key']}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n{".encode()
    )
    answer = read_all(sock, timeout=10)
    sock.close()
    assert b" 201 " not in answer
    assert post_event(server, creds) == 201


def test_a_refused_upload_is_not_read_to_its_end(served: tuple[Server, dict[str, Any]]) -> None:
    """413 on the declared length, then the connection closes: the rest of the body is never read."""
    server, creds = served
    sock = connect(server)
    sock.sendall(
        f"POST /v1/accounts/{creds['license_code']}/events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {creds['api_key']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {1024**3}\r\n\r\n".encode()
    )
    answer = b""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for _ in range(64):
            sock.sendall(b"x" * 65536)
    answer = read_all(sock, timeout=10)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower(), answer[:300]


def test_connections_past_the_cap_evict_idle_ones_and_nobody_starves(served: tuple[Server, dict[str, Any]]) -> None:
    server, creds = served
    idle = [connect(server) for _ in range(60)]  # more than max_connections (40)
    try:
        time.sleep(0.3)
        assert post_event(server, creds) == 201
        closed = sum(closed_by_server(s, within=0.2) for s in idle)
        assert closed >= 20  # at least the ones past the cap were closed to make room
    finally:
        for s in idle:
            s.close()
