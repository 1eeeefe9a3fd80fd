"""Real `openengage serve` processes on 127.0.0.1, for smoke, crash and cluster tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli(*args: str, database_url: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `openengage` CLI in a subprocess (as a user would)."""
    env = {**os.environ, "OPENENGAGE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "openengage", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        cwd=cwd,
        timeout=120,
    )


class Server:
    """One `openengage serve` in its own process group; `kill()` is `kill -9` of the whole group."""

    def __init__(
        self,
        database_url: str,
        *,
        port: int | None = None,
        cwd: Path | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd
        self.args = args
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.log_path: Path | None = None

    def start(self, timeout: float = 30.0) -> Server:
        env = {**os.environ, "OPENENGAGE_LOG_LEVEL": "warning", **self.env}
        if self.database_url is not None:
            env["OPENENGAGE_DATABASE_URL"] = self.database_url
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openengage", "serve", "--port", str(self.port), *self.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.cwd,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy in {timeout}s: {self.output()}")

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        """SIGKILL the server and every process it started: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextlib.contextmanager
def running(database_url: str, **kw: Any) -> Iterator[Server]:
    server = Server(database_url, **kw).start()
    try:
        yield server
    finally:
        server.stop()


def wait_processed(client: httpx.Client, lc: str, key: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the stats endpoint until nothing is pending."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/accounts/{lc}/stats", headers={"Authorization": f"Bearer {key}"})
        data: dict[str, Any] = r.json()["response"]["data"]
        if data["pending"] == 0 or time.monotonic() > deadline:
            return data
        time.sleep(0.1)
