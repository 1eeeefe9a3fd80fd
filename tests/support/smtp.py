"""A real SMTP server on 127.0.0.1 (aiosmtpd, in a thread) that keeps what it receives; it can be stopped
and started again on the same port (the sender's retries), and told to refuse messages."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.server import free_port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.refuse is not None:
            return self.sink.refuse
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(msg)
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.sink.sessions.append((session.ssl is not None, bool(session.authenticated)))
        while self.sink.stall:  # keep the message but never say 250: the client cannot know it arrived
            await asyncio.sleep(0.05)
        return "250 OK"


class _Auth:
    """AUTH PLAIN/LOGIN against one user name and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(data, LoginPassword) and data.login == self.user and data.password == self.password
        return AuthResult(success=ok, handled=False)


class SmtpSink:
    def __init__(self, port: int | None = None, auth: tuple[str, str] | None = None, **tls: Any) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.sessions: list[tuple[bool, bool]] = []  # per message kept: (over TLS, authenticated)
        self.lock = threading.Lock()
        self.refuse: str | None = None  # e.g. "451 try later" or "550 no such user"
        self.stall = False  # keep messages, never answer their DATA
        self.auth = auth
        self.tls = tls
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        kwargs: dict[str, Any] = dict(self.tls)
        if self.auth is not None:
            kwargs.update(authenticator=_Auth(*self.auth), auth_require_tls=bool(self.tls), auth_required=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
                self._controller.start()
                return self
            except (OSError, RuntimeError):  # the port is still being released
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
