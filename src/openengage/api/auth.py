"""Who is calling: accounts by license code or app id, team members by API key hash.

Lookups are cached per process and the whole cache is dropped whenever the store's config version
moves (every admin change bumps it), which the poller checks twice a second: a revoked key, a new
account or a new limit takes effect on every node within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from openengage.accounts import Account, Principal, hash_key
from openengage.store.base import Store

log = logging.getLogger("openengage.auth")
POLL_SECONDS = 0.5
_MAX_ENTRIES = 10_000  # bounds the cache against floods of unknown keys or codes


class AuthCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.version: int | None = None
        self._license: dict[str, Account | None] = {}
        self._app: dict[str, Account | None] = {}
        self._keys: dict[str, Principal | None] = {}
        self._task: asyncio.Task[None] | None = None

    def clear(self) -> None:
        self._license.clear()
        self._app.clear()
        self._keys.clear()

    async def refresh(self) -> None:
        version = await self.store.config_version()
        if version != self.version:
            self.clear()
            self.version = version

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.refresh()
            except Exception:
                log.exception("config poll failed", extra={"action": "auth_poll"})

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @staticmethod
    def _bounded(cache: dict[str, Any]) -> dict[str, Any]:
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        return cache

    async def account_by_license(self, license_code: str) -> Account | None:
        if license_code not in self._license:
            self._bounded(self._license)[license_code] = await self.store.account_by_license(license_code)
        return self._license[license_code]

    async def account_by_app_id(self, app_id: str) -> Account | None:
        if app_id not in self._app:
            self._bounded(self._app)[app_id] = await self.store.account_by_app_id(app_id)
        return self._app[app_id]

    async def principal(self, api_key: str) -> Principal | None:
        digest = hash_key(api_key)
        if digest not in self._keys:
            self._bounded(self._keys)[digest] = await self.store.principal(digest)
        return self._keys[digest]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
