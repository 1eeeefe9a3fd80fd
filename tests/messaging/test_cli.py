"""`openengage channels` and `openengage campaigns`: exactly DESIGN's commands, secrets never shown back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.smtp import SmtpSink
from tests.support.webhook import Receiver
from tests.test_cli import fails, lc, run, run_json  # noqa: F401 - lc is a fixture


def test_channels_set_and_list_never_show_the_password(database_url: str, lc: str) -> None:  # noqa: F811
    out = run(
        database_url,
        "channels",
        "set",
        lc,
        "email",
        "--smtp-url",
        "smtp://mailer:p%40ss@127.0.0.1:2525",
        "--from",
        "shop@acme.test",
    ).stdout
    assert "p%40ss" not in out and "p@ss" not in out and "smtp://mailer:***@127.0.0.1:2525" in out
    listed = run_json(database_url, "channels", "list", lc)["channels"]
    assert listed == [
        {
            "kind": "email",
            "smtp_url": "smtp://mailer:***@127.0.0.1:2525",
            "from": "shop@acme.test",
            "updated_at": listed[0]["updated_at"],
        }
    ]
    audit = run(database_url, "audit", "list", lc).stdout
    assert "channel.set" in audit and "p%40ss" not in audit and "p@ss" not in audit


def test_a_webhook_secret_is_shown_once(database_url: str, lc: str) -> None:  # noqa: F811
    first = run_json(database_url, "channels", "set", lc, "webhook", "--url", "http://127.0.0.1:9/a")
    assert first["secret"].startswith("whsec_")
    again = run_json(database_url, "channels", "set", lc, "webhook", "--url", "http://127.0.0.1:9/b")
    assert "secret" not in again and again["url"] == "http://127.0.0.1:9/b" and again["signed"] is True
    rotated = run_json(
        database_url, "channels", "set", lc, "webhook", "--url", "http://127.0.0.1:9/b", "--rotate-secret"
    )
    assert rotated["secret"] != first["secret"]
    assert first["secret"] not in run(database_url, "channels", "list", lc).stdout


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("email", "--smtp-url", "http://x", "--from", "a@b.c"), "smtp://"),
        (("email", "--smtp-url", "smtp://x:99999", "--from", "a@b.c"), "port"),
        (("email", "--smtp-url", "smtp://x:25"), "--from"),
        (("email", "--smtp-url", "smtp://x:25", "--from", "not-an-address"), "not an email address"),
        (("webhook", "--url", "ftp://x"), "http:// or https://"),
        (("webhook",), "--url"),
    ],
)
def test_bad_channels_are_refused_in_one_line(database_url: str, lc: str, args: tuple[str, ...], text: str) -> None:  # noqa: F811
    assert text in fails(database_url, "channels", "set", lc, *args)


def test_campaigns_create_start_pause_list(database_url: str, lc: str, tmp_path: Path) -> None:  # noqa: F811
    body = tmp_path / "body.html"
    body.write_text("<p>Hi {{ user.firstName }}</p>")
    code = run(
        database_url,
        "campaigns",
        "create",
        lc,
        "--name",
        "Welcome",
        "--channel",
        "email",
        "--subject",
        "Hi {{ user.firstName }}",
        "--body-file",
        str(body),
    ).stdout.strip()
    assert re.fullmatch(r"~[0-9a-f]{8}", code)
    doc = run_json(
        database_url,
        "campaigns",
        "create",
        lc,
        "--name",
        "Hook",
        "--channel",
        "webhook",
        "--subject",
        "s",
        "--body-file",
        str(body),
    )
    assert doc["status"] == "draft" and doc["body_type"] == "html"
    assert run(database_url, "campaigns", "start", lc, code).stdout.strip() == f"{code} running"
    assert run_json(database_url, "campaigns", "pause", lc, code)["status"] == "paused"
    listed = run_json(database_url, "campaigns", "list", lc)["campaigns"]
    assert [(c["id"], c["status"]) for c in listed] == [(doc["id"], "draft"), (code, "paused")]
    assert "no campaign '~00000000'" in fails(database_url, "campaigns", "start", lc, "~00000000")


def test_a_template_error_is_refused_with_line_and_reason(database_url: str, lc: str, tmp_path: Path) -> None:  # noqa: F811
    body = tmp_path / "body.txt"
    body.write_text("Hello\n{{ user.firstName | shout }}\n")
    line = fails(
        database_url,
        "campaigns",
        "create",
        lc,
        "--name",
        "x",
        "--channel",
        "email",
        "--subject",
        "s",
        "--body-file",
        str(body),
    )
    assert line == "Error: template error in the body, line 2: No filter named 'shout'."
    line = fails(
        database_url,
        "campaigns",
        "create",
        lc,
        "--name",
        "x",
        "--channel",
        "email",
        "--subject",
        "{{ oops",
        "--body-file",
        str(body),
    )
    assert line.startswith("Error: template error in the subject, line 1:")
    assert run_json(database_url, "campaigns", "list", lc)["campaigns"] == []


def test_channels_test_sends_now(database_url: str, lc: str) -> None:  # noqa: F811
    with SmtpSink() as sink:
        run(database_url, "channels", "set", lc, "email", "--smtp-url", sink.url, "--from", "shop@acme.test")
        out = run(database_url, "channels", "test", lc, "email", "--to", "me@example.com").stdout
        assert "test email sent to me@example.com" in out
        (msg,) = sink.wait(1)
        assert msg["Subject"] == "OpenEngage test message"
    secret = run_json(database_url, "channels", "set", lc, "webhook", "--url", "http://127.0.0.1:1/x")["secret"]
    assert "the test message failed" in fails(database_url, "channels", "test", lc, "webhook")
    with Receiver(secret) as receiver:
        run(database_url, "channels", "set", lc, "webhook", "--url", receiver.url)
        run(database_url, "channels", "test", lc, "webhook")
        (body,) = receiver.wait(1)
        assert body["test"] is True and receiver.refused == 0
