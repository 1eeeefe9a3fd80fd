"""The HTTP connection: uvicorn's httptools protocol with the limits a public server needs.

uvicorn offers a keep-alive timeout (armed only after a first response) and `limit_concurrency`
(which answers 503 once N connections are open, idle ones included, so N idle sockets starve
everyone). It has no cap on the request head, and no clock on a request that trickles in. Added here:
- the request head (request line and headers) is capped at `max_header_bytes`: 431 and close, with at
  most one socket read (256 KiB) buffered, never the whole header;
- a connection that sends nothing is closed after `keep_alive_timeout`, like an idle keep-alive one;
- a request must arrive whole (head and body) within `read_timeout` of its first byte: 408 while the
  head is incomplete, else the connection is closed (the app sees the client gone); a response the
  client stops reading for `read_timeout` is dropped too;
- at most `max_connections` connections per process: a new one closes an idle connection first, and
  is answered 503 only when every open connection is busy with a request.
"""

from __future__ import annotations

import asyncio
import http
from typing import Any, NamedTuple

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class Limits(NamedTuple):
    max_header_bytes: int
    max_connections: int
    read_timeout: float


class LimitedProtocol(HttpToolsProtocol):
    limits = Limits(32_768, 1000, 30.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes of the request head so far; -1 once the head is complete
        self._deadline: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ connection count

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            self._refuse(503)
            return
        # A connection that never sends a byte is idle too.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def _idle(self) -> bool:
        return (
            self._head_bytes == 0
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self.transport.is_closing()
        )

    def _make_room(self) -> bool:
        for conn in self.connections:
            if conn is not self and isinstance(conn, LimitedProtocol) and conn._idle():
                conn.transport.close()
                return True
        return False

    def _refuse(self, status: int) -> None:
        """Answer `status` with a short text and close, whatever state the request is in."""
        phrase = http.HTTPStatus(status).phrase.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, phrase, len(phrase), phrase)
        )
        self.transport.close()

    # ------------------------------------------------------------ reading

    def data_received(self, data: bytes) -> None:
        if self._head_bytes >= 0:
            self._head_bytes += len(data)
            if self._deadline is None:  # the first byte of a request starts its clock
                self._deadline = self.loop.call_later(self.limits.read_timeout, self._read_timed_out)
        super().data_received(data)
        if self._head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            self._refuse(431)

    def on_headers_complete(self) -> None:
        self._head_bytes = -1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_bytes >= 0:
            self._refuse(408)
        else:  # mid-body: the app is waiting on it and learns the client is gone
            self.transport.close()

    # ------------------------------------------------------------ writing

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.read_timeout, self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._deadline, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._deadline = self._write_timer = None
        super().connection_lost(exc)


def protocol_class(limits: Limits) -> type[LimitedProtocol]:
    """A LimitedProtocol subclass carrying `limits` (uvicorn instantiates the class it is given)."""
    return type("OpenEngageHttpProtocol", (LimitedProtocol,), {"limits": limits})
