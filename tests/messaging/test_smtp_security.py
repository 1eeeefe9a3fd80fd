"""Email over STARTTLS with SMTP AUTH, against a real SMTP server (aiosmtpd) that requires both, with a
certificate of a private CA (`?cafile=`): delivered encrypted and logged in; a wrong password fails for
good; a certificate nobody trusts is never sent to (certificates are always verified)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.messaging.helpers import Messaging
from tests.support.harness import Harness
from tests.support.smtp import SmtpSink

USER, PASSWORD = "mailer", "s3cret!"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert, key)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def secure_sink(certificate: tuple[Path, Path]) -> Iterator[SmtpSink]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with SmtpSink(auth=(USER, PASSWORD), tls_context=context, require_starttls=True) as sink:
        yield sink


def deliver(api: Harness, sink: SmtpSink, smtp_url: str) -> dict[str, object]:
    m = Messaging(api, sink)
    m.email_channel(smtp_url)
    m.user("peter", email="peter@example.com")
    r = m.trigger(m.campaign(), {"userId": "peter", "txnId": "secure-1"})
    assert r.status_code == 200, r.text
    m.send()
    api.call(m.sender.close)
    status = m.status("secure-1")
    assert status.status_code == 200, status.text
    doc: dict[str, object] = status.json()["response"]["data"]
    return doc


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtp"])  # required, and offered by the server
def test_starttls_and_auth_with_a_private_ca(
    api: Harness, secure_sink: SmtpSink, certificate: tuple[Path, Path], scheme: str
) -> None:
    url = f"{scheme}://{USER}:s3cret%21@127.0.0.1:{secure_sink.port}?cafile={certificate[0]}"
    doc = deliver(api, secure_sink, url)
    assert doc["status"] == "sent", doc
    (msg,) = secure_sink.wait(1)
    assert msg["Message-ID"] == "<secure-1@acme.test>"
    assert secure_sink.sessions == [(True, True)]  # over TLS, logged in


def test_a_wrong_password_fails_for_good(api: Harness, secure_sink: SmtpSink, certificate: tuple[Path, Path]) -> None:
    url = f"smtp+starttls://{USER}:wrong@127.0.0.1:{secure_sink.port}?cafile={certificate[0]}"
    doc = deliver(api, secure_sink, url)
    assert doc["status"] == "failed", doc
    (message,) = doc["messages"]  # type: ignore[attr-defined]
    assert "535" in message["attempts"][0]["error"] and "wrong" not in message["attempts"][0]["error"]
    assert secure_sink.messages == []


def test_an_untrusted_certificate_is_never_sent_to(api: Harness, secure_sink: SmtpSink) -> None:
    doc = deliver(api, secure_sink, f"smtp+starttls://{USER}:s3cret%21@127.0.0.1:{secure_sink.port}")
    assert doc["status"] == "queued", doc  # a transient failure: retried (the certificate may be fixed)
    (message,) = doc["messages"]  # type: ignore[attr-defined]
    assert "certificate" in message["attempts"][0]["error"].lower()
    assert secure_sink.messages == [] and secure_sink.sessions == []
