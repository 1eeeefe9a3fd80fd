"""`openengage import` and `openengage backup`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from openengage.cli import main
from openengage.store.sqlite import backup
from tests.support.harness import Harness
from tests.support.server import Server, cli


def invoke(api: Harness, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--database-url", api.settings.database_url])


# ---------------------------------------------------------------- import


def test_import_users_csv_through_the_api_rules(api: Harness, tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "userId,email,phone,age:number,vip:boolean,signup:date,prefs:json,emailOptIn\n"
        'u1,a@x.io,+14155550100,31,true,2024-01-02T03:04:05+0000,"{""a"": [1]}",false\n'
        "u2,,,abc,,,,\n"  # not a number: refused by the CSV reader
        ",b@x.io,,,,,,\n"  # no id: refused by the API's own rule
        "u3,,12345,,,,,\n"  # not E.164: refused by the API's own rule
        "u4,d@x.io,,7,no,,,\n"
    )
    result = invoke(api, "import", api.lc, str(path), "--kind", "users")
    assert result.exit_code == 1, result.output
    assert "line 3: age: 'abc' is not a number" in result.output
    assert "line 4: userId and anonymousId cannot be empty." in result.output
    assert "line 5: phone must be in E.164 format" in result.output
    assert "imported 2 users records from 5 rows; 3 bad rows" in result.output
    api.drain()
    u1 = api.profile("u1")
    assert (u1["email"], u1["phone"], u1["emailOptIn"]) == ("a@x.io", "+14155550100", False)
    assert u1["attributes"] == {"age": 31, "vip": True, "signup": "2024-01-02T03:04:05+0000", "prefs": {"a": [1]}}
    assert api.profile("u4")["attributes"] == {"age": 7, "vip": False}
    schema = api.data("/schema")["users"]
    assert {n: schema[n]["type"] for n in schema} == {
        "age": "Number",
        "vip": "Boolean",
        "signup": "Date",
        "prefs": "JSON Object",
    }


def test_import_events_ndjson_and_type_lock(api: Harness, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(
        '{"userId": "u1", "eventName": "buy", "eventTime": "2024-05-01T10:00:00+0000", "eventData": {"n": 1}}\n'
        "\n"
        "not json\n"
        '{"userId": "u1", "eventName": "buy", "eventData": {"n": "two"}}\n'  # type conflict: dropped, recorded
        '{"eventName": "orphan"}\n'
    )
    result = invoke(api, "import", api.lc, str(path), "--kind", "events", "--json")
    assert result.exit_code == 1
    assert "line 3: request body is not valid JSON" in result.output
    assert "line 5: userId and anonymousId cannot be empty." in result.output
    api.drain()
    events = api.events("u1")["events"]
    assert [e["eventData"] for e in events] == [{}, {"n": 1}]
    rejections = api.data("/rejections")["rejections"]
    assert [(r["field"], r["reason"]) for r in rejections] == [("eventData.n", "type_conflict")]


def test_import_refuses_a_bad_header_and_unknown_account(api: Harness, tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("userId,age:int\nu1,3\n")
    result = invoke(api, "import", api.lc, str(path), "--kind", "users")
    assert result.exit_code == 1 and "line 1: column 'age:int': type must be one of" in result.output
    result = invoke(api, "import", "~nope", str(path), "--kind", "users")
    assert result.exit_code == 1 and "no account with license code '~nope'" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- backup


@pytest.fixture
def sqlite_api(sqlite_url: str) -> Any:
    with Harness(sqlite_url) as harness:
        yield harness


def event(i: int) -> dict[str, Any]:
    return {"userId": f"user{i % 5}", "eventName": "tick", "eventData": {"seq": i}}


def test_backup_copy_keeps_ids_of_entries_applied_after_the_log_snapshot(sqlite_api: Harness, tmp_path: Path) -> None:
    """Entries accepted between the two snapshots are applied in the store copy but absent from the log
    copy; new entries in the restored store must not reuse their ids (the processor would skip them)."""
    api = sqlite_api
    for i in range(3):
        assert api.post("/events", event(i)).status_code == 201
    api.drain()
    source = api.settings.database_url.removeprefix("sqlite:///")
    dest = str(tmp_path / "copy" / "oe.db")
    Path(dest).parent.mkdir()
    backup.copy(backup.ingest_path(source), backup.ingest_path(dest))
    for i in range(3, 6):  # after the log snapshot, before the store snapshot
        assert api.post("/events", event(i)).status_code == 201
    api.drain()
    backup.copy(source, dest)
    result = backup.align(dest)
    assert result.pending_entries == 0
    with Harness(f"sqlite:///{dest}") as restored:
        assert restored.post("/events", event(6), lc=api.lc, key=api.creds.api_key).status_code == 201
        restored.drain()
        seqs = sorted(
            e["eventData"]["seq"] for e in restored.events("user1", lc=api.lc, key=api.creds.api_key)["events"]
        )
        assert seqs == [1, 6]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_backup_while_a_server_takes_traffic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live' / 'oe.db'}"
    (tmp_path / "live").mkdir()
    server = Server(url, cwd=tmp_path).start()
    try:
        creds = _first_account(server)
        acked: list[tuple[float, int]] = []
        stop = threading.Event()

        def send() -> None:
            headers = {"Authorization": f"Bearer {creds['api_key']}"}
            with httpx.Client(base_url=server.base, timeout=10) as client:
                i = 0
                while not stop.is_set():
                    try:
                        r = client.post(f"/v1/accounts/{creds['license_code']}/events", json=event(i), headers=headers)
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        acked.append((time.monotonic(), i))
                    i += 1

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)
        started = time.monotonic()
        dest = tmp_path / "backup" / "oe.db"
        out = cli("backup", str(dest), "--json", database_url=url)
        assert '"pending_entries"' in out.stdout
        time.sleep(0.3)
        stop.set()
        sender.join(10)
    finally:
        server.stop()
    before = {i for t, i in acked if t < started}
    assert len(before) > 20
    with Harness(f"sqlite:///{dest}") as restored:
        restored.drain()
        found: list[int] = []
        for user in range(5):
            page = restored.events(f"user{user}", lc=creds["license_code"], key=creds["api_key"], limit=1000)
            found += [e["eventData"]["seq"] for e in page["events"]]
    assert len(found) == len(set(found)), "an event is in the backup twice"
    assert before <= set(found), f"acknowledged before the backup started, missing: {sorted(before - set(found))}"


def _first_account(server: Server) -> dict[str, str]:
    """The license code and key `serve` printed for the first account."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = server.output()
        if "REST API key:" in text and "License code:" in text:
            lines = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}
            return {"license_code": lines["License code"], "api_key": lines["REST API key"]}
        time.sleep(0.1)
    raise AssertionError(f"serve printed no first account: {server.output()}")


# ---------------------------------------------------------------- export


def _seed_account(api: Harness) -> None:
    assert api.post("/users", {"anonymousId": "anon-1", "attributes": {"plan": "free"}}).status_code == 201
    assert api.post("/events", {"anonymousId": "anon-1", "eventName": "visit"}).status_code == 201
    user = {
        "userId": 'u,1\n"quoted"',  # a CSV's worst case
        "anonymousId": "anon-1",
        "firstName": "Zoë",
        "email": "z@x.io",
        "emailOptIn": False,
        "attributes": {"age": 41, "vip": True, "since": "2020-02-02T02:02:02+0000", "tags": ["a", "b"], "o": {"k": 1}},
    }
    assert api.post("/users", user).status_code == 201
    assert api.post("/users", {"anonymousId": "anon-2", "attributes": {"age": 7}}).status_code == 201
    event = {"userId": "u2", "eventName": "buy", "eventTime": 1_700_000_000_123, "eventData": {"amount": 9.5}}
    assert api.post("/events", event).status_code == 201
    assert api.post("/events", {**event, "eventTime": "2024-01-01T10:00:00+0530"}).status_code == 201
    api.drain()


def _snapshot(api: Harness, lc: str, key: str) -> Any:
    users = {}
    for uid in ('u,1\n"quoted"', "u2"):
        doc = api.profile(uid, lc=lc, key=key)
        users[uid] = {k: v for k, v in doc.items() if k not in ("firstSeen", "lastSeen")}
        users[uid]["events"] = [
            {k: v for k, v in e.items() if k != "receivedAt"} for e in api.events(uid, lc=lc, key=key)["events"]
        ]
    anon = api.data("/anonymous-users/anon-2", lc=lc, key=key)
    users["anon-2"] = {k: v for k, v in anon.items() if k not in ("firstSeen", "lastSeen")}
    return users


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_export_imports_back_into_another_account(api: Harness, tmp_path: Path, fmt: str) -> None:
    _seed_account(api)
    files = {}
    for kind in ("users", "events"):
        path = tmp_path / f"{kind}.{fmt}"
        result = invoke(api, "export", api.lc, "--kind", kind, "--format", fmt, "--output", str(path))
        assert result.exit_code == 0, result.output
        files[kind] = path
    created = invoke(api, "accounts", "create", "copy", "--json")
    assert created.exit_code == 0, created.output
    other = json.loads(created.stdout)
    for kind in ("users", "events"):
        result = invoke(api, "import", other["license_code"], str(files[kind]), "--kind", kind, "--format", fmt)
        assert result.exit_code == 0, result.output
    api.refresh_auth()
    api.drain()
    assert _snapshot(api, other["license_code"], other["api_key"]) == _snapshot(api, api.lc, api.creds.api_key)


def test_export_writes_instants_a_number_would_misread_as_text() -> None:
    from openengage.store.base import Event
    from openengage.transfer.exporter import event_time

    def at(ms: int) -> Event:
        return Event(1, "u", None, "e", ms, None, {}, {}, 0)

    assert event_time(at(1_700_000_000_123)) == 1_700_000_000_123
    assert event_time(at(86_400_500)) == "1970-01-02T00:00:00.500+0000"  # as a number: 86,400,500 seconds
    assert event_time(at(-86_400_000)) == "1969-12-31T00:00:00.000+0000"


def test_export_csv_types_its_columns_from_the_schema(api: Harness, tmp_path: Path) -> None:
    _seed_account(api)
    result = invoke(api, "export", api.lc, "--kind", "users", "--format", "csv")
    header = result.stdout.splitlines()[0]
    assert header.endswith("age:number,o:json,plan:string,since:date,tags:json,vip:boolean")
