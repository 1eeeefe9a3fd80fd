"""`members set-password` and `members login-link`, and the owner's link printed by the first run."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from openengage.cli import main
from openengage.dashboard.pages import account_url
from tests.support.dashboard import Visitor
from tests.support.harness import Harness


def cli(board: Harness, *args: str, stdin: str | None = None, ok: bool = True) -> str:
    result = CliRunner().invoke(main, [*args, "--database-url", board.settings.database_url], input=stdin)
    assert (result.exit_code == 0) is ok, result.output
    return result.stdout if ok else result.stderr


def sign_in(visitor: Visitor, email: str, password: str) -> int:
    csrf = visitor.page_csrf("/dashboard/login")
    return visitor.post("/dashboard/login", data={"email": email, "password": password, "csrf_token": csrf}).status_code


def test_set_password_reads_stdin_and_the_member_signs_in(board: Harness) -> None:
    owner = board.creds.owner_email
    out = cli(board, "members", "set-password", board.lc, owner, "--json", stdin="pass phrase 1\n")
    assert json.loads(out) == {"email": owner, "password_set": True}
    visitor = Visitor(board)
    assert sign_in(visitor, owner, "pass phrase 1\n") == 401  # the trailing newline was not part of it
    assert sign_in(visitor, owner, "pass phrase 1") == 303
    entry = board.call(board.store.audit, board.creds.account_id, 1, None).items[0]
    assert (entry.action, entry.target) == ("member.set_password", owner) and entry.actor.startswith("cli:")
    assert "pass phrase" not in entry.detail


def test_set_password_prompts_twice_on_a_terminal(board: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from openengage import cli as cli_module

    monkeypatch.setattr(cli_module, "stdin_is_terminal", lambda: True)
    args = ["members", "set-password", board.lc, board.creds.owner_email, "--database-url", board.settings.database_url]
    mismatch = CliRunner().invoke(main, args, input="pass phrase 2\nanother one\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    assert sign_in(Visitor(board), board.creds.owner_email, "pass phrase 2") == 401
    result = CliRunner().invoke(main, args, input="pass phrase 2\npass phrase 2\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Repeat for confirmation" in result.output
    assert "pass phrase 2" not in result.output  # no echo
    assert sign_in(Visitor(board), board.creds.owner_email, "pass phrase 2") == 303


def test_set_password_refuses_short_passwords_and_strangers(board: Harness) -> None:
    assert "at least 8 characters" in cli(board, "members", "set-password", board.lc, "owner@acme.test",
                                          stdin="short", ok=False)  # fmt: skip
    assert "no team member" in cli(board, "members", "set-password", board.lc, "nobody@acme.test",
                                   stdin="long enough", ok=False)  # fmt: skip
    board.call(board.store.add_member, board.creds.account_id, "mgr@acme.test", "manager", _manager())
    denied = cli(board, "members", "set-password", board.lc, board.creds.owner_email, "--by", "mgr@acme.test",
                 stdin="long enough", ok=False)  # fmt: skip
    assert "Account Management" in denied


def test_login_link_prints_a_url_that_signs_in_once(board: Harness) -> None:
    out = cli(board, "members", "login-link", board.lc, board.creds.owner_email, "--base-url", "https://oe.example")
    url = out.splitlines()[0]
    assert url.startswith("https://oe.example/dashboard/login/") and "valid 24 hours, single use" in out
    path = urlsplit(url).path
    visitor = Visitor(board)
    csrf = visitor.page_csrf(path)
    assert visitor.post(path, data={"csrf_token": csrf}).status_code == 303
    assert visitor.get(account_url(board.lc, "")).status_code == 200
    second = Visitor(board)
    assert second.post(path, data={"csrf_token": second.page_csrf(path)}).status_code == 410
    default = json.loads(cli(board, "members", "login-link", board.lc, board.creds.owner_email, "--json"))
    assert default["url"].startswith("http://127.0.0.1:8000/dashboard/login/") and default["valid_hours"] == 24
    entry = board.call(board.store.audit, board.creds.account_id, 1, None).items[0]
    assert entry.action == "member.login_link" and urlsplit(default["url"]).path.rsplit("/", 1)[1] not in entry.detail


def _manager() -> frozenset[str]:
    from openengage import accounts

    return accounts.ROLE_PERMISSIONS["manager"]
