"""`serve` lifecycle with real processes: SIGTERM under load exits 0 and loses nothing acknowledged; the
port is taken before the first account is created; the port is validated."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support.server import Server, cli, wait_processed

pytestmark = pytest.mark.slow
SEQ = itertools.count()
PY_SPY = str(Path(sys.executable).with_name("py-spy"))  # a test dependency, next to the venv's python


def load(base: str, lc: str, key: str, acked: list[int], answered: list[int], stop: threading.Event) -> None:
    """One client posting single events, each with a unique seq, until the server goes away."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=15) as client:
        while not stop.is_set():
            seq = next(SEQ)
            body = {"userId": f"u{seq % 7}", "eventName": "Shutdown test", "eventData": {"seq": seq}}
            try:
                r = client.post(f"/v1/accounts/{lc}/events", json=body)
            except httpx.HTTPError:
                return  # refused or cut: never acknowledged
            answered.append(r.status_code)
            if r.status_code == 201:
                acked.append(seq)


def stacks_of_group(pgid: int) -> str:
    """Every thread's Python stack in a process group (py-spy dump), to say where a shutdown hangs."""
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(int(p.name)) == pgid]
    dumps = []
    for pid in pids:
        try:
            done = subprocess.run([PY_SPY, "dump", "--pid", pid], capture_output=True, text=True, timeout=20)
            dumps.append(done.stdout + done.stderr)
        except (OSError, subprocess.TimeoutExpired) as exc:
            dumps.append(f"{pid}: py-spy dump failed: {exc}")
    return "\n".join(dumps)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def stored_seqs(base: str, lc: str, key: str) -> list[int]:
    seqs: list[int] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        for u in range(7):
            r = client.get(f"/v1/accounts/{lc}/users/u{u}/events", params={"limit": 1000})
            if r.status_code == 404:
                continue
            data = r.json()["response"]["data"]
            assert data["next"] is None
            seqs += [e["eventData"]["seq"] for e in data["events"]]
    return seqs


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("workers", "whole_group"), [(1, True), (2, False)])
def test_sigterm_under_load_answers_in_flight_requests_and_exits_0(
    tmp_path: Path, workers: int, whole_group: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'oe.db'}"
    cli("migrate", database_url=url)
    creds = json.loads(cli("accounts", "create", "acme", "--json", "--rate-limit", "events=0", database_url=url).stdout)
    lc, key = creds["license_code"], creds["api_key"]
    server = Server(url, args=("--workers", str(workers)), env={"OPENENGAGE_LOG_LEVEL": "info"}).start()
    assert server.proc is not None
    acked: list[int] = []
    answered: list[int] = []
    stop = threading.Event()
    clients = [threading.Thread(target=load, args=(server.base, lc, key, acked, answered, stop)) for _ in range(8)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 20
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    # The processor child starts at niceness 10: on a loaded machine it can still be importing after 200
    # acknowledgements, and a SIGTERM then ends it before its loop (a clean stop, but not what this tests).
    deadline = time.monotonic() + 30
    while "processor started" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "processor started" in server.output(), server.output()
    signalled = time.monotonic()
    if whole_group:  # what systemd and Ctrl+C do
        os.killpg(server.proc.pid, signal.SIGTERM)
    else:  # `kill PID`: serve passes it on
        os.kill(server.proc.pid, signal.SIGTERM)
    try:
        status = server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve still running 15 s after SIGTERM\n{stacks_of_group(server.proc.pid)}\n{server.output()}")
    took = time.monotonic() - signalled
    stop.set()
    for c in clients:
        c.join(20)
    output = server.output()
    assert status == 0, output
    assert took < 10, f"shutdown took {took:.1f} s"
    assert "killing it" not in output and "exited with status" not in output, output
    assert "processor stopped after" in output  # the processor left its loop, not killed mid-transaction
    assert set(answered) <= {201, 503}, set(answered)
    # Every acknowledged record is there, exactly once, after a restart.
    with Server(url) as again, httpx.Client(base_url=again.base) as client:
        wait_processed(client, lc, key)
        seqs = stored_seqs(again.base, lc, key)
    assert sorted(seqs) == sorted(set(seqs))
    assert set(acked) <= set(seqs) and len(acked) >= 200


def test_a_taken_port_fails_before_the_first_account_is_created(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "openengage", "serve", "--port", str(port)],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("OPENENGAGE_")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done
    assert "License code" not in done.stdout and "curl" not in done.stdout
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(is another server running there? use --port)"
    ]
    # the keys are not lost: the next start (on a free port) creates and prints them
    with Server(None, cwd=tmp_path) as server:
        assert "License code:" in server.output()


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_a_port_outside_1_to_65535_is_refused(tmp_path: Path, port: str) -> None:
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("OPENENGAGE_")}
    flag = subprocess.run(
        [sys.executable, "-m", "openengage", "serve", "--port", port],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert flag.returncode == 2 and "--port" in flag.stderr and "1<=x<=65535" in flag.stderr, flag
    variable = subprocess.run(
        [sys.executable, "-m", "openengage", "serve"],
        cwd=tmp_path,
        env={**env, "OPENENGAGE_PORT": port},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert variable.returncode == 1, variable
    assert variable.stderr.strip().splitlines() == [
        f"Error: Setting 'port' has value '{port}'. Use a TCP port from 1 to 65535."
    ]
    assert not (tmp_path / "openengage.db").exists()


_SUPERVISOR = """
import sys
from openengage import serve
serve.SUPERVISE_EVERY = 0.0005  # many wake-ups a second: a handler that locked would meet the lock held
stop = serve.StopRequest()
stop.install()
print("ready", flush=True)
sys.exit(serve._supervise([], stop))
"""


def test_the_supervisor_stops_on_sigterm_whenever_it_lands(tmp_path: Path) -> None:
    """serve's signal handler only sets a flag: a SIGTERM at any point of the supervisor's loop stops it
    (a handler taking a lock the loop holds would hang `serve` for good)."""
    for attempt in range(8):
        with subprocess.Popen([sys.executable, "-c", _SUPERVISOR], stdout=subprocess.PIPE, text=True) as proc:
            try:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                time.sleep(0.003 * attempt)
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=5) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
