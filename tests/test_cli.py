"""The CLI, in-process (click's runner) on a SQLite store."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from openengage.cli import main


def run(url: str, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(main, [*args, "--database-url", url])
    assert (result.exit_code == 0) is ok, result.output
    return result


def run_json(url: str, *args: str) -> Any:
    return json.loads(run(url, *args, "--json").output)


def test_migrate_check_and_accounts(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["check", "--database-url", sqlite_url])
    assert result.exit_code == 1 and "pending" in result.output
    assert "applied" in run(sqlite_url, "migrate").output
    assert run(sqlite_url, "check").output.startswith("ok")
    created = run_json(sqlite_url, "accounts", "create", "acme", "--rate-limit", "events=100", "--rate-limit", "bulk=0")
    assert {"license_code", "api_key", "app_id", "data_api_key"} <= set(created)
    assert created["license_code"].startswith("~")
    assert created["rate_limits"]["events"] == 100 and created["rate_limits"]["bulk"] == 0
    listed = run_json(sqlite_url, "accounts", "list")["accounts"]
    assert [a["license_code"] for a in listed] == [created["license_code"]]
    shown = run_json(sqlite_url, "accounts", "set-limit", created["license_code"], "users=9")
    assert shown["rate_limits"]["users"] == 9 and shown["rate_limits"]["events"] == 100


def test_bad_limit_and_unknown_account(sqlite_url: str) -> None:
    run(sqlite_url, "migrate")
    result = run(sqlite_url, "accounts", "create", "x", "--rate-limit", "nope=1", ok=False)
    assert "NAME=PER_MINUTE" in result.output
    result = run(sqlite_url, "accounts", "show", "~missing", ok=False)
    assert "no account with license code '~missing'" in result.output
    assert "Traceback" not in result.output


def test_members_and_keys(sqlite_url: str) -> None:
    run(sqlite_url, "migrate")
    lc = run_json(sqlite_url, "accounts", "create", "acme", "--owner", "boss@acme.test")["license_code"]
    mgr = run_json(sqlite_url, "members", "add", lc, "mgr@acme.test", "--role", "manager")
    assert mgr["can_use_rest_api"] is False and mgr["api_key"]
    custom = run_json(
        sqlite_url,
        "members",
        "add",
        lc,
        "ops@acme.test",
        "--role",
        "custom",
        "--permission",
        "account_management",
        "--permission",
        "update_data",
    )
    assert custom["can_use_rest_api"] is True
    revoked = run_json(sqlite_url, "keys", "revoke", lc, "ops@acme.test", "--by", "mgr@acme.test")
    assert revoked == {"email": "ops@acme.test", "revoked": True, "by": "mgr@acme.test"}
    members = {m["email"]: m for m in run_json(sqlite_url, "members", "list", lc)["members"]}
    assert members["ops@acme.test"]["has_active_key"] is False
    issued = run_json(sqlite_url, "keys", "issue", lc, "ops@acme.test")
    assert issued["api_key"] != custom["api_key"]
    changed = run_json(sqlite_url, "members", "set-role", lc, "ops@acme.test", "--role", "admin")
    assert changed["has_active_key"] is False and changed["role"] == "admin"
    result = run(sqlite_url, "keys", "revoke", lc, "boss@acme.test", "--by", "ops@acme.test")  # admin may
    assert "revoked" in result.output
    run(sqlite_url, "members", "add", lc, "ro@acme.test", "--role", "custom", "--permission", "account_management")
    denied = run(sqlite_url, "keys", "revoke", lc, "mgr@acme.test", "--by", "ro@acme.test", ok=False)
    assert "Update Data Management" in denied.output
    run_json(sqlite_url, "members", "remove", lc, "mgr@acme.test")
    keys = run_json(sqlite_url, "keys", "list", lc)["keys"]
    assert {k["member"] for k in keys} >= {"boss@acme.test", "ops@acme.test"}
    assert all(k["hint"].startswith("…") and len(k["hint"]) == 5 for k in keys)


def test_process_burst(sqlite_url: str) -> None:
    run(sqlite_url, "migrate")
    assert "applied 0 records" in run(sqlite_url, "process", "--burst").output
