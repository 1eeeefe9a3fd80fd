"""A TCP proxy the test controls, between OpenEngage and its PostgreSQL server.

- `cut()`: the database is gone: every open connection is reset and new ones are refused (reset at once);
- `stall()`: the network is partitioned: open connections stop carrying bytes and new ones hang;
- `restore()`: back to normal (stalled connections carry on where they stopped).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from collections.abc import Iterator

UP, CUT, STALLED = "up", "cut", "stalled"


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed server's kernel would answer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class Proxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.state = UP
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    # ------------------------------------------------------------ control

    def cut(self) -> None:
        self.state = CUT
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for client, server in pairs:
            _reset(client)
            _reset(server)

    def stall(self) -> None:
        self.state = STALLED

    def restore(self) -> None:
        self.state = UP

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    # ------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.state == CUT:
                _reset(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        while self.state == STALLED and not self._closed:  # a partition: the SYN got through, nothing else
            threading.Event().wait(0.05)
        if self.state == CUT or self._closed:
            _reset(client)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(client)
            return
        pair = (client, server)
        with self._lock:
            self._pairs.add(pair)
        try:
            self._pump(client, server)
        finally:
            with self._lock:
                self._pairs.discard(pair)
            _reset(client)
            _reset(server)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peer = {client: server, server: client}
        while not self._closed and self.state != CUT:
            if self.state == STALLED:
                threading.Event().wait(0.05)
                continue
            try:
                ready, _, _ = select.select([client, server], [], [], 0.1)
            except (OSError, ValueError):
                return
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    peer[sock].sendall(data)
                except OSError:
                    return


@contextlib.contextmanager
def proxy_for(database_url: str) -> Iterator[Proxy]:
    from urllib.parse import urlsplit

    parts = urlsplit(database_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()
