"""PostgreSQL test databases: a template migrated once per test process, one cheap copy per test.

`CREATE DATABASE x TEMPLATE t` copies the migrated template, so every backend-parametrized test gets its
own migrated database without running migrations. Copies (0.3 s of fsyncs) and drops (a checkpoint
each) run on a background thread while tests run. Names carry the pid of the test process,
so parallel runs (other developers, CI) never collide; databases left by a dead process are dropped.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import queue
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

from openengage.store.postgres.store import PostgresStore

PREFIX = "oe_test_"
_counter = itertools.count()
_templates: dict[str, str] = {}


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_stale(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Drop databases of test processes that died before they could clean up."""
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)).fetchall()
    for (name,) in rows:
        match = re.match(rf"{PREFIX}(?:tmpl_)?(\d+)", str(name))
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            with contextlib.suppress(psycopg.Error):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop(url: str, name: str) -> None:
    with contextlib.suppress(psycopg.Error), _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def template(url: str) -> str:
    """The name of this process's migrated template database (created on first use)."""
    if url not in _templates:
        name = f"{PREFIX}tmpl_{os.getpid()}"
        with _admin(url) as conn:
            _drop_stale(conn)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        asyncio.run(PostgresStore(with_database(url, name)).migrate())
        atexit.register(_drop, url, name)
        _templates[url] = name
    return _templates[url]


def _create(url: str, source: str) -> str:
    name = f"{PREFIX}{os.getpid()}_{next(_counter)}"
    with _admin(url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return name


class _Spares:
    """A daemon thread makes template copies ahead of time and drops used databases afterwards:
    DROP DATABASE waits for a checkpoint, CREATE DATABASE for fsyncs; neither should stall a test."""

    SPARES = 2

    def __init__(self, url: str, source: str) -> None:
        self.url, self.source = url, source
        self.ready: queue.Queue[str] = queue.Queue()
        self.tasks: queue.Queue[tuple[str, str]] = queue.Queue()
        self.leftover: set[str] = set()
        self.stopping = False
        for _ in range(self.SPARES):
            self.tasks.put(("create", ""))
        self.thread = threading.Thread(target=self._work, daemon=True, name="pg-spares")
        self.thread.start()
        atexit.register(self._finish)

    def _work(self) -> None:
        while True:
            task, name = self.tasks.get()
            if task == "stop":
                return
            try:
                if task == "create" and not self.stopping:
                    self.ready.put(_create(self.url, self.source))
                elif task == "drop":
                    _drop(self.url, name)
                    self.leftover.discard(name)
            except psycopg.Error:
                pass  # take() falls back to creating a copy itself; _finish drops what is left

    def take(self) -> str:
        try:
            name = self.ready.get(timeout=10)
        except queue.Empty:
            name = _create(self.url, self.source)
        else:
            self.tasks.put(("create", ""))
        self.leftover.add(name)
        return name

    def discard(self, name: str) -> None:
        self.tasks.put(("drop", name))

    def _finish(self) -> None:
        self.stopping = True
        self.tasks.put(("stop", ""))
        self.thread.join(30)
        while not self.ready.empty():
            self.leftover.add(self.ready.get_nowait())
        for name in list(self.leftover):
            _drop(self.url, name)


_spares: dict[str, _Spares] = {}


@contextlib.contextmanager
def scratch_database(url: str, migrated: bool = True) -> Iterator[str]:
    """A new database (migrated, unless `migrated=False`), dropped afterwards; yields its URL."""
    if not migrated:
        name = _create(url, "template0")
        try:
            yield with_database(url, name)
        finally:
            _drop(url, name)
        return
    if url not in _spares:
        _spares[url] = _Spares(url, template(url))
    spares = _spares[url]
    name = spares.take()
    try:
        yield with_database(url, name)
    finally:
        spares.discard(name)
