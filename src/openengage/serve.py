"""`openengage serve`: bind, migrate, bootstrap a first account, then run the API and the processor.

The `serve` process binds the port first (a port already taken fails before anything is created or
printed), prepares the store, then supervises child processes: one or more API workers (uvicorn, each
on the pre-bound socket) and the processor, each with its own GIL and, on SQLite, its own write lock.

Shutdown (SIGTERM or SIGINT, to `serve` alone or to its whole process group): `serve` closes its copy
of the socket and passes SIGTERM on; each API worker stops accepting, answers or fails every request
in flight within `shutdown_timeout` (a 2xx only once committed), then commits what its group commit
still holds; the processor finishes its transaction. `serve` exits 0 once all children have exited
cleanly, SIGKILLing any that did not within `shutdown_timeout` + 3 seconds (and exiting 1 then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import shlex
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.importer import import_from_string

from openengage.dashboard.auth import login_link
from openengage.errors import ConfigError
from openengage.lifecycle import die_with_parent, setup_logging, tune_gc
from openengage.messaging import retention
from openengage.messaging.sender import Sender
from openengage.metrics import MULTIPROC_ENV
from openengage.processor import eraser, worker
from openengage.protocol import Limits, protocol_class
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Store

log = logging.getLogger("openengage.serve")

APP_FACTORY = "openengage.app:create_app"
STARTUP_GRACE = 10.0  # a child that exits sooner after its start failed to start: stop, do not loop
SUPERVISE_EVERY = 0.2
KILL_MARGIN = 3.0  # seconds past shutdown_timeout before a child that did not stop is killed
PROCESSOR_NICE = 10  # the processor child's niceness, relative to the API workers (see _processor_child)


# ---------------------------------------------------------------- first run


async def prepare(settings: Settings) -> dict[str, Any] | None:
    """Migrate if asked, and create the first account on an empty store (returned for printing)."""
    store = open_store(settings)
    try:
        if settings.migrate:
            await store.migrate()
        await store.open()
        if await store.list_accounts():
            return None
        creds = await store.create_account("default", "owner@localhost")
        link = await login_link(store, creds.account_id, creds.owner_email, base_url(settings))
        return {
            "license_code": creds.license_code,
            "api_key": creds.api_key,
            "app_id": creds.app_id,
            "data_api_key": creds.data_api_key,
            "owner_email": creds.owner_email,
            "login_link": link,
        }
    finally:
        await store.close()


def base_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def first_run_text(creds: dict[str, Any], settings: Settings) -> str:
    base = base_url(settings)
    lc, key = creds["license_code"], creds["api_key"]
    body = '{"userId": "johndoe21#", "firstName": "John", "lastName": "Doe"}'
    auth = shlex.quote(f"Authorization: Bearer {key}")
    return "\n".join(
        [
            "OpenEngage created the first account, 'default'. Keep these; keys are stored only as hashes.",
            f"  License code:        {lc}",
            f"  REST API key:        {key}",
            f"  MoEngage app id:     {creds['app_id']}",
            f"  MoEngage Data key:   {creds['data_api_key']}",
            "",
            "Send the WebEngage seed's /users example:",
            f"curl -X POST {base}/v1/accounts/{lc}/users \\",
            f"  --header {auth} \\",
            "  --header 'Content-Type: application/json' \\",
            f"  --data '{body}'",
            "",
            "Read the profile back:",
            f"curl {base}/v1/accounts/{lc}/users/johndoe21%23 --header {auth}",
            "",
            f"Open the dashboard as {creds['owner_email']} (a one-time sign-in link, valid 24 hours):",
            f"  {creds['login_link']}",
            f"Then give yourself a password: openengage members set-password '{lc}' {creds['owner_email']}",
            "",
        ]
    )


def bind(settings: Settings) -> socket.socket:
    """The listening address, taken before anything else happens (workers inherit the socket)."""
    host = settings.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, settings.port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot listen on {host}:{settings.port}: {reason} (is another server running there? use --port)"
        ) from None
    sock.set_inheritable(True)
    return sock


# ---------------------------------------------------------------- the processor


async def _run_processor(settings: Settings, burst: bool) -> int:
    store: Store = open_store(settings)
    await store.open()
    try:
        tune_gc()  # a burst too: with the default thresholds the collector took 15-20% of the processor's CPU
        if burst:
            applied = await worker.drain(store, settings.batch_records)
            await eraser.once(store)  # GDPR erasures due now (docs/privacy.md)
            await retention.once(store, settings.outbox_retention_days)  # docs/messaging.md
            return applied
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(
            worker.run(store, stop, settings.batch_records, settings.poll_interval, settings.linger),
            eraser.run(store, stop),
            retention.run(store, stop, settings.outbox_retention_days),
        )
        return 0
    finally:
        await store.close()


def run_processor(settings: Settings, burst: bool = False) -> int:
    return asyncio.run(_run_processor(settings, burst))


def _processor_child(env: dict[str, str], parent_pid: int) -> None:
    die_with_parent(parent_pid)
    # The API answers clients, the processor catches up: when both want the cores, the API goes first.
    # Measured (bench/serve_bench.py, docs/benchmarks.md): bulk ingest 0.27-0.33x the bare app instead of
    # 0.16-0.24x and bulk p99 144-189 ms instead of 203-226 ms on a loaded machine; once ingest pauses the
    # processor has the cores to itself.
    os.nice(PROCESSOR_NICE)
    settings = Settings.from_env(env)
    setup_logging(settings.log_level, settings.log_format)
    run_processor(settings)


# ---------------------------------------------------------------- the sender (issue #10)


async def _run_sender(settings: Settings) -> int:
    store: Store = open_store(settings)
    await store.open()
    sender = Sender(
        store,
        lease_seconds=settings.sender_lease,
        concurrency=settings.sender_concurrency,
        # SMTP and webhook calls time out within the lease, so a live sender never outlasts its own lease
    )
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("sender started (%s)", sender.owner, extra={"action": "sender_start"})
        # On SIGTERM: no new claims; deliveries in flight get most of the shutdown time, the rest are left
        # to their leases (retried later, by this node or another).
        await sender.run(stop, grace=max(1.0, settings.shutdown_timeout - 1.0))
        log.info("sender stopped: %d sent, %d failed", sender.sent, sender.failed, extra={"action": "sender_stop"})
        return 0
    finally:
        await sender.close()
        await store.close()


def _sender_child(env: dict[str, str], parent_pid: int) -> None:
    die_with_parent(parent_pid)
    settings = Settings.from_env(env)
    setup_logging(settings.log_level, settings.log_format)
    asyncio.run(_run_sender(settings))


# ---------------------------------------------------------------- an API worker


class Server(uvicorn.Server):
    """uvicorn's server, minus its habit of re-raising SIGTERM once shut down (exit status 143):
    a clean shutdown on a signal exits 0. A second SIGINT still forces the exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def _raise_open_files(wanted: int) -> None:
    """Each connection is a file descriptor: make room for max_connections (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if hard != resource.RLIM_INFINITY and hard < wanted:
        log.warning(
            "open-file limit %d is below max_connections; connections past it are refused by the kernel",
            hard,
            extra={"action": "rlimit"},
        )


def uvicorn_config(settings: Settings, app: Any) -> uvicorn.Config:
    limits = Limits(settings.max_header_bytes, settings.max_connections, settings.read_timeout)
    return uvicorn.Config(
        app,
        loop="uvloop",
        http=protocol_class(limits),
        lifespan="on",
        access_log=False,
        log_config=None,  # our handlers (text or JSON) get uvicorn's records too
        log_level=settings.log_level,
        backlog=4096,
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


def _api_child(env: dict[str, str], sock: socket.socket, parent_pid: int, factory: str) -> None:
    die_with_parent(parent_pid)
    settings = Settings.from_env(env)
    setup_logging(settings.log_level, settings.log_format)
    _raise_open_files(settings.max_connections + 256)
    create: Callable[[Settings], Any] = import_from_string(factory)
    server = Server(uvicorn_config(settings, create(settings)))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)


# ---------------------------------------------------------------- the supervisor


class _Child:
    def __init__(self, name: str, start: Callable[[], BaseProcess]) -> None:
        self.name = name
        self._start = start
        self.process = start()
        self.started_at = time.monotonic()

    def restart(self) -> None:
        self.process = self._start()
        self.started_at = time.monotonic()


class StopRequest:
    """Set by serve's SIGTERM/SIGINT handler: a plain attribute, no lock. A Python signal handler runs in
    the main thread between two bytecodes, possibly while that thread holds a lock; one that takes the
    same lock waits for itself forever. `threading.Event.set()` takes its condition's lock, which the
    supervisor's `Event.wait()` holds for a few bytecodes at every wake-up: a SIGTERM landing there would
    leave `serve` hung (the `signal` module's documentation warns against locks in handlers)."""

    def __init__(self) -> None:
        self.requested = False

    def handle(self, sig: int, frame: FrameType | None) -> None:
        self.requested = True

    def install(self) -> dict[int, Any]:
        """Handle SIGTERM and SIGINT; returns the previous handlers."""
        return {sig: signal.signal(sig, self.handle) for sig in (signal.SIGTERM, signal.SIGINT)}


def _supervise(children: list[_Child], stop: StopRequest) -> int:
    """Wait for a signal, restarting children that die on the way; 1 when one fails to start. Polls the
    flag (a signal interrupts the sleep, which then sleeps out its 0.2 s)."""
    while not stop.requested:
        time.sleep(SUPERVISE_EVERY)
        if stop.requested:
            break
        for child in children:
            if child.process.is_alive():
                continue
            code = child.process.exitcode
            if time.monotonic() - child.started_at < STARTUP_GRACE:
                log.error("%s exited at start (status %s); stopping", child.name, code, extra={"action": "serve"})
                return 1
            log.warning("%s exited (status %s); restarting it", child.name, code, extra={"action": "serve"})
            child.restart()
    return 0


def _shut_down(children: list[_Child], timeout: float) -> int:
    for child in children:
        if child.process.is_alive() and child.process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    status = 0
    for child in children:
        child.process.join(max(0.0, deadline - time.monotonic()))
        if child.process.is_alive():
            log.error("%s did not stop in time; killing it", child.name, extra={"action": "serve"})
            child.process.kill()
            child.process.join(5)
            status = 1
        elif child.process.exitcode not in (0, -signal.SIGTERM):
            # -SIGTERM: the child was still starting (no handler installed yet) when the SIGTERM came, to it
            # from us or to the whole process group; it had nothing in flight, so that is a clean stop.
            log.error("%s exited with status %s", child.name, child.process.exitcode, extra={"action": "serve"})
            status = 1
    return status


def serve(settings: Settings, app_factory: str = APP_FACTORY) -> int:
    """Run until SIGTERM or SIGINT; the exit status (0 after a clean shutdown). `app_factory` names the
    function that builds each worker's ASGI app from Settings (bench/ wraps the product's)."""
    setup_logging(settings.log_level, settings.log_format)
    stop = StopRequest()
    previous = stop.install()
    sock = bind(settings)
    metrics_dir = tempfile.mkdtemp(prefix="openengage-metrics-")
    try:
        creds = asyncio.run(prepare(settings))
        if creds is not None:
            print(first_run_text(creds, settings), flush=True)
        if stop.requested:
            return 0
        # Every child records its metrics in this directory; /metrics sums them (openengage.metrics).
        os.environ[MULTIPROC_ENV] = metrics_dir
        env = settings.to_env()
        ctx = multiprocessing.get_context("spawn")
        me = os.getpid()

        def spawn(target: Callable[..., None], args: tuple[Any, ...], name: str) -> Callable[[], BaseProcess]:
            def start() -> BaseProcess:
                process = ctx.Process(target=target, args=args, name=name)
                process.start()
                return process

            return start

        children: list[_Child] = []
        if settings.processor:
            children.append(_Child("processor", spawn(_processor_child, (env, me), "openengage-processor")))
        if settings.sender:
            children.append(_Child("sender", spawn(_sender_child, (env, me), "openengage-sender")))
        for n in range(settings.workers):
            start = spawn(_api_child, (env, sock, me, app_factory), f"openengage-api-{n + 1}")
            children.append(_Child(f"API worker {n + 1}", start))
        log.info(
            "OpenEngage listening on %s (%d API worker%s%s)",
            base_url(settings),
            settings.workers,
            "" if settings.workers == 1 else "s",
            (", processor" if settings.processor else "") + (", sender" if settings.sender else ""),
            extra={"action": "serve"},
        )
        status = _supervise(children, stop)
        sock.close()  # stop accepting: the workers close their copies as they shut down
        status = max(status, _shut_down(children, settings.shutdown_timeout + KILL_MARGIN))
        return status
    finally:
        sock.close()
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(metrics_dir, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
