"""The CLI, in-process (click's runner) on every store backend, plus a real process where it matters."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from openengage.cli import main
from openengage.store.migrations import available


def run(url: str, *args: str, ok: bool = True, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, [*args, "--database-url", url], input=stdin)
    assert (result.exit_code == 0) is ok, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def run_json(url: str, *args: str) -> Any:
    return json.loads(run(url, *args, "--json").stdout)


def fails(url: str, *args: str) -> str:
    """The one line a failing command prints on stderr (and nothing on stdout)."""
    result = run(url, *args, ok=False)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def lc(database_url: str) -> str:
    """A migrated store with one account (owner boss@acme.test); its license code."""
    run(database_url, "migrate")
    code: str = run_json(database_url, "accounts", "create", "acme", "--owner", "boss@acme.test")["license_code"]
    return code


def test_migrate_check_and_accounts(database_url: str) -> None:
    assert "applied" in run(database_url, "migrate").output
    assert run(database_url, "check").output.startswith("ok")
    created = run_json(
        database_url, "accounts", "create", "acme", "--rate-limit", "events=100", "--rate-limit", "bulk=0"
    )
    assert {"license_code", "api_key", "app_id", "data_api_key"} <= set(created)
    assert created["license_code"].startswith("~")
    assert created["rate_limits"]["events"] == 100 and created["rate_limits"]["bulk"] == 0
    listed = run_json(database_url, "accounts", "list")["accounts"]
    assert [a["license_code"] for a in listed] == [created["license_code"]]
    shown = run_json(database_url, "accounts", "set-limit", created["license_code"], "users=9")
    assert shown["rate_limits"]["users"] == 9 and shown["rate_limits"]["events"] == 100


def test_check_and_migrate_agree_on_what_is_pending(unmigrated_database_url: str, backend: str) -> None:
    """`check` said "2 migrations pending" on a new SQLite store where `migrate` then applied 3."""
    package = f"openengage.store.{backend}"
    every = available(package, "main") + (available(package, "ingest") if backend == "sqlite" else [])
    line = fails(unmigrated_database_url, "check")
    assert line == f"Error: {len(every)} migrations pending ({', '.join(every)}); run `openengage migrate`"
    assert run(unmigrated_database_url, "migrate").stdout == f"applied {len(every)} migrations: {', '.join(every)}\n"
    assert run(unmigrated_database_url, "check").stdout == "ok: store reachable and migrated\n"


def test_accounts_show_is_readable_text(database_url: str, lc: str) -> None:
    run(database_url, "accounts", "set-limit", lc, "events=0")
    text = run(database_url, "accounts", "show", lc).stdout
    assert "{" not in text and "'" not in text  # no Python dict
    lines = text.splitlines()
    assert lines[0] == "name:          acme" and lines[1] == f"license code:  {lc}"
    # names padded to the longest limit name (`business-definitions`, #10): compare with blanks squeezed
    rows = [" ".join(line.split()) for line in lines if line.startswith("  ")]
    assert "users 5000" in rows and "events 0" in rows and "gdpr 100" in rows
    assert "rate limits per minute (0 = unlimited):" in lines


def test_members_and_keys(database_url: str, lc: str) -> None:
    url = database_url
    mgr = run_json(url, "members", "add", lc, "mgr@acme.test", "--role", "manager")
    assert mgr["can_use_rest_api"] is False and mgr["api_key"]
    assert "account_management" not in mgr["permissions"] and len(mgr["permissions"]) == 6
    custom = run_json(
        url, "members", "add", lc, "ops@acme.test", "--role", "custom",
        "--permission", "account_management", "--permission", "update_data",
    )  # fmt: skip
    assert custom["can_use_rest_api"] is True and custom["permissions"] == ["account_management", "update_data"]
    revoked = run_json(url, "keys", "revoke", lc, "ops@acme.test", "--by", "mgr@acme.test")
    assert revoked == {"email": "ops@acme.test", "revoked": True, "by": "mgr@acme.test"}
    members = {m["email"]: m for m in run_json(url, "members", "list", lc)["members"]}
    assert members["ops@acme.test"]["has_active_key"] is False
    assert members["boss@acme.test"]["owner"] is True and members["mgr@acme.test"]["owner"] is False
    assert "boss@acme.test  admin (owner)" in run(url, "members", "list", lc).stdout
    issued = run_json(url, "keys", "issue", lc, "ops@acme.test")
    assert issued["api_key"] != custom["api_key"]
    changed = run_json(url, "members", "set-role", lc, "ops@acme.test", "--role", "admin")
    assert changed["has_active_key"] is False and changed["role"] == "admin"
    result = run(url, "keys", "revoke", lc, "boss@acme.test", "--by", "ops@acme.test")  # admin may
    assert "revoked" in result.output
    run(url, "members", "add", lc, "ro@acme.test", "--role", "custom", "--permission", "account_management")
    denied = fails(url, "keys", "revoke", lc, "mgr@acme.test", "--by", "ro@acme.test")
    assert "Update Data Management" in denied
    run_json(url, "members", "remove", lc, "mgr@acme.test")
    keys = run_json(url, "keys", "list", lc)["keys"]
    assert {k["member"] for k in keys} >= {"boss@acme.test", "ops@acme.test"}
    assert all(k["hint"].startswith("…") and len(k["hint"]) == 5 for k in keys)
    assert set(keys[0]) == {"member", "hint", "created_at", "revoked_at", "revoked_reason", "last_used_at"}


def test_keys_revoke_acts_as_the_owner(database_url: str, lc: str) -> None:
    """It acted as the first member listed, and crashed (IndexError) when there was none."""
    url = database_url
    run(url, "members", "add", lc, "a@acme.test", "--role", "admin")
    run(url, "members", "add", lc, "b@acme.test", "--role", "custom", "--permission", "view_dashboard")
    done = run_json(url, "keys", "revoke", lc, "b@acme.test")
    assert done["by"] == "boss@acme.test"
    entry = run_json(url, "audit", "list", lc, "--limit", "1")["entries"][0]
    assert (entry["action"], entry["target"], entry["actor"]) == (
        "key.revoke",
        "b@acme.test",
        f"cli:{getpass.getuser()}",
    )
    line = fails(url, "keys", "revoke", lc, "b@acme.test")
    assert line == "Error: 'b@acme.test' has no active API key: it was already revoked"


def test_keys_revoke_without_owner_says_so(database_url: str, lc: str) -> None:
    from tests.store.test_admin import FALSE, raw_sql

    run(database_url, "members", "add", lc, "a@acme.test", "--role", "admin")
    raw_sql(database_url, f"UPDATE members SET owner = {FALSE[database_url[:6]]}")  # a pre-#8 account
    line = fails(database_url, "keys", "revoke", lc, "a@acme.test")
    assert "no owner" in line and "--by EMAIL" in line
    run(database_url, "keys", "revoke", lc, "a@acme.test", "--by", "boss@acme.test")


def test_the_owner_and_the_last_admin_stay(database_url: str, lc: str) -> None:
    url = database_url
    assert "owns the account" in fails(url, "members", "remove", lc, "boss@acme.test")
    assert "owns the account" in fails(url, "members", "set-role", lc, "boss@acme.test", "--role", "manager")
    run(url, "members", "add", lc, "two@acme.test", "--role", "admin")
    run(url, "members", "remove", lc, "two@acme.test", "--by", "boss@acme.test")
    assert [m["email"] for m in run_json(url, "members", "list", lc)["members"]] == ["boss@acme.test"]


def test_audit_list(database_url: str, lc: str) -> None:
    url = database_url
    run(url, "members", "add", lc, "m@acme.test", "--role", "manager", "--by", "boss@acme.test")
    run(url, "accounts", "set-limit", lc, "events=7")
    page = run_json(url, "audit", "list", lc, "--limit", "2")
    me = f"cli:{getpass.getuser()}"
    assert [(e["action"], e["actor"], e["address"]) for e in page["entries"]] == [
        ("account.set_limits", me, "local"),
        ("member.add", "boss@acme.test", "local"),
    ]
    assert page["entries"][0]["detail"] == "events=7" and page["next"]
    rest = run_json(url, "audit", "list", lc, "--cursor", page["next"])
    assert [(e["action"], e["target"], e["actor"]) for e in rest["entries"]] == [("account.create", lc, me)]
    assert rest["next"] is None
    text = run(url, "audit", "list", lc, "--limit", "1").stdout.splitlines()
    assert text[0].endswith(f"  {me}  local  account.set_limits  {lc}  events=7")
    assert text[1].startswith("(more: --cursor ") and len(text) == 2


# Each of these failed with a traceback, was accepted, or said nothing useful (issue #7).
BAD_INPUTS: list[tuple[tuple[str, ...], str]] = [
    (("accounts", "set-limit", "{lc}", "events=²"), "PER_MINUTE must be a whole number"),
    (("accounts", "set-limit", "{lc}", "events=①"), "PER_MINUTE must be a whole number"),
    (("accounts", "set-limit", "{lc}", "events=99999999999999999999"), "PER_MINUTE must be a whole number"),
    (("accounts", "set-limit", "{lc}", "events=-1"), "PER_MINUTE must be a whole number"),
    (("accounts", "set-limit", "{lc}", "nope=1"), "NAME=PER_MINUTE"),
    (("accounts", "set-limit", "{lc}"), "Missing argument"),
    (("accounts", "create", "x", "--rate-limit", "events=²"), "PER_MINUTE must be a whole number"),
    (("accounts", "create", "x", "--owner", "boss"), "not an email address"),
    (("accounts", "show", "~missing"), "no account with license code '~missing'"),
    (("members", "add", "{lc}", "notanemail", "--role", "admin"), "'notanemail' is not an email address"),
    (("members", "add", "{lc}", "a b@x.test", "--role", "admin"), "is not an email address"),
    (("members", "add", "{lc}", "n@acme.test", "--role", "admin", "--permission", "update_data"), "only to --role"),
    (("members", "add", "{lc}", "n@acme.test", "--role", "manager", "--permission", "update_data"), "only to --role"),
    (("members", "add", "{lc}", "n@acme.test", "--role", "custom", "--permission", "root"), "'root' is not one of"),
    (("members", "add", "{lc}", "n@acme.test", "--role", "owner"), "'owner' is not one of"),
    (("members", "add", "{lc}", "n@acme.test"), "Missing option '--role'"),
    (("members", "add", "{lc}", "boss@acme.test", "--role", "admin"), "already exists"),
    (("members", "add", "{lc}", "n@acme.test", "--role", "admin", "--by", "ghost@x.test"), "no team member"),
    (("members", "set-role", "{lc}", "ghost@x.test", "--role", "admin"), "no team member 'ghost@x.test'"),
    (("members", "set-role", "{lc}", "boss@acme.test", "--role", "custom"), "owns the account"),
    (("members", "remove", "{lc}", "boss@acme.test"), "owns the account"),
    (("members", "remove", "{lc}", "ghost@x.test"), "no team member"),
    (("keys", "revoke", "{lc}", "ghost@x.test"), "no team member 'ghost@x.test'"),
    (("keys", "revoke", "{lc}", "boss@acme.test", "--by", "ghost@x.test"), "no team member 'ghost@x.test'"),
    (("keys", "issue", "~missing", "boss@acme.test"), "no account with license code"),
    (("audit", "list", "{lc}", "--limit", "0"), "--limit"),
    (("audit", "list", "{lc}", "--limit", "²"), "--limit"),
    (("audit", "list", "{lc}", "--cursor", "garbage!"), "cursor is not valid"),
    (("audit", "list", "{lc}", "--cursor", "MTE4MDU5MTYyMDcxNzQxMTMwMzQyNA"), "cursor is not valid"),  # 2**70
    (("accounts", "frobnicate"), "No such command 'frobnicate'"),
    (("members", "add", "{lc}"), "Missing argument 'EMAIL'"),
]


def test_every_error_is_one_line(database_url: str, lc: str) -> None:
    """One store for the whole table: each bad input fails in one line and changes nothing."""
    before = run_json(database_url, "audit", "list", lc)
    problems = []
    for args, message in BAD_INPUTS:
        try:
            line = fails(database_url, *[a.format(lc=lc) for a in args])
            assert message in line, line
        except AssertionError as exc:
            problems.append(f"{' '.join(args)}: {exc}")
    assert problems == []
    assert run_json(database_url, "audit", "list", lc) == before  # nothing changed


@pytest.mark.parametrize(
    "url",
    ["bogus://x", "sqlite:////nonexistent-dir/oe.db", "postgresql://postgres@127.0.0.1:1/nowhere"],
)
@pytest.mark.parametrize("command", [("check",), ("accounts", "list"), ("audit", "list", "~x"), ("migrate",)])
def test_store_problems_are_one_line(url: str, command: tuple[str, ...]) -> None:
    if command == ("migrate",) and url.startswith("sqlite"):
        url = "sqlite:////proc/oe.db"  # migrate creates missing directories; /proc refuses them
    line = fails(url, *command)
    assert len(line) < 400


def test_a_real_process_prints_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    cmd = [sys.executable, "-m", "openengage"]
    subprocess.run([*cmd, "migrate", "--database-url", url], check=True, capture_output=True, timeout=60)
    created = subprocess.run(
        [*cmd, "accounts", "create", "acme", "--json", "--database-url", url],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lc = json.loads(created.stdout)["license_code"]
    for args in (["accounts", "set-limit", lc, "events=²"], ["members", "add", lc, "notanemail", "--role", "admin"]):
        done = subprocess.run([*cmd, *args, "--database-url", url], capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("Error: "), done.stderr


def test_process_burst(database_url: str) -> None:
    run(database_url, "migrate")
    assert "applied 0 records" in run(database_url, "process", "--burst").output
