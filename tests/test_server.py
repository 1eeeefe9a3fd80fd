"""Real server on 127.0.0.1: the first-run output works as pasted, and `--workers 2` serves."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support import seeds
from tests.support.server import Server, cli, wait_processed

pytestmark = pytest.mark.slow


def test_first_run_prints_credentials_and_a_curl_that_works(tmp_path: Path) -> None:
    # No database URL at all: the embedded default, sqlite:///openengage.db in the working directory.
    with Server(None, cwd=tmp_path) as server:
        text = server.output()
        assert "License code:" in text and "REST API key:" in text
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("curl -X POST"))
        send = "\n".join(lines[start : start + 4])
        read_back = next(line for line in lines if line.startswith("curl http"))
        sent = subprocess.run(["bash", "-c", send + " --silent"], capture_output=True, text=True, timeout=30)
        assert json.loads(sent.stdout) == {"response": {"status": "queued"}}
        key = text.split("REST API key:")[1].split()[0]
        lc = text.split("License code:")[1].split()[0]
        with httpx.Client(base_url=server.base) as client:
            # DESIGN §6: an accepted record is visible in the read API within a second at moderate load
            accepted = time.monotonic()
            r = client.post(f"/v1/accounts/{lc}/events", json=seeds.EVENT, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 201
            while (
                client.get(f"/v1/accounts/{lc}/users/johndoe", headers={"Authorization": f"Bearer {key}"}).status_code
                != 200
            ):
                assert time.monotonic() - accepted < 1.0, "not visible within a second"
                time.sleep(0.02)
            wait_processed(client, lc, key)
        shown = subprocess.run(["bash", "-c", read_back + " --silent"], capture_output=True, text=True, timeout=30)
        profile = json.loads(shown.stdout)["response"]["data"]
        assert (profile["userId"], profile["firstName"], profile["lastName"]) == ("johndoe21#", "John", "Doe")
    assert (tmp_path / "openengage.db").exists() and (tmp_path / "openengage.ingest.db").exists()
    # a second start finds the account and prints no new credentials
    with Server(None, cwd=tmp_path) as server:
        assert "License code:" not in server.output()


def test_two_api_workers_and_the_processor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", database_url=url).stdout)
    headers = {"Authorization": f"Bearer {creds['api_key']}"}
    with Server(url, args=("--workers", "2")) as server, httpx.Client(base_url=server.base, headers=headers) as client:
        lc = creds["license_code"]
        for _ in range(20):
            assert client.post(f"/v1/accounts/{lc}/events", json=seeds.EVENT).status_code == 201
        assert client.post(f"/v1/accounts/{lc}/users", json=seeds.USER).status_code == 201
        stats = wait_processed(client, lc, creds["api_key"])
        assert stats == {"users": 1, "anonymousUsers": 0, "events": 20, "pending": 0, "deadLetters": 0}
        # an admin change made by the CLI reaches both running workers within a second
        cli("keys", "issue", lc, "owner@localhost", database_url=url)
        time.sleep(1.2)
        codes = {client.get(f"/v1/accounts/{lc}/stats").status_code for _ in range(10)}
        assert codes == {401}
