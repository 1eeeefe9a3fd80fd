"""`openengage serve`: migrate, bootstrap a first account, then run the API and the processor.

The processor runs in its own process (its own GIL, its own SQLite write lock on the store file) next
to one or more uvicorn API processes, so ingest and processing use both cores.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shlex
import signal
from typing import Any

import uvicorn

from openengage.app import PARENT_ENV, create_app
from openengage.lifecycle import die_with_parent, setup_logging, tune_gc
from openengage.processor import worker
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Store

log = logging.getLogger("openengage.serve")


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
        return {
            "license_code": creds.license_code,
            "api_key": creds.api_key,
            "app_id": creds.app_id,
            "data_api_key": creds.data_api_key,
        }
    finally:
        await store.close()


def first_run_text(creds: dict[str, Any], settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = f"http://{host}:{settings.port}"
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
        ]
    )


async def _run_processor(settings: Settings, burst: bool) -> int:
    store: Store = open_store(settings)
    await store.open()
    try:
        if burst:
            return await worker.drain(store, settings.batch_records)
        tune_gc()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(store, stop, settings.batch_records, settings.poll_interval)
        return 0
    finally:
        await store.close()


def run_processor(settings: Settings, burst: bool = False) -> int:
    return asyncio.run(_run_processor(settings, burst))


def _processor_child(env: dict[str, str], parent_pid: int) -> None:
    die_with_parent(parent_pid)
    settings = Settings.from_env(env)
    setup_logging(settings.log_level)
    run_processor(settings)


def serve(settings: Settings) -> None:
    setup_logging(settings.log_level)
    creds = asyncio.run(prepare(settings))
    if creds is not None:
        print(first_run_text(creds, settings), flush=True)
    env = settings.to_env()
    child = None
    if settings.processor:
        ctx = multiprocessing.get_context("spawn")
        child = ctx.Process(target=_processor_child, args=(env, os.getpid()), name="openengage-processor")
        child.start()
    try:
        common: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "loop": "uvloop",
            "http": "httptools",
            "access_log": False,
            "log_level": settings.log_level,
            "backlog": 4096,
            "timeout_graceful_shutdown": 5,
        }
        if settings.workers > 1:
            os.environ.update(env)
            os.environ[PARENT_ENV] = str(os.getpid())
            uvicorn.run("openengage.app:create_app", factory=True, workers=settings.workers, **common)
        else:
            uvicorn.Server(uvicorn.Config(create_app(settings), **common)).run()
    finally:
        if child is not None:
            child.terminate()
            child.join(10)
            if child.is_alive():
                child.kill()
