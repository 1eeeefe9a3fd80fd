"""Who is calling: accounts by license code or app id, team members by API key hash.

Lookups are cached per process and the whole cache is dropped whenever the store's config version
moves (every admin change bumps it), which the poller checks twice a second: a revoked key, a new
account or a new limit takes effect on every node within a second.

The caches also remember unknown license codes and app ids (a flood of them must not reach the
store), so what a client can put in them is bounded: an id longer than any real one is refused before
any lookup, and each cache holds at most `_MAX_ENTRIES` entries of at most `MAX_ID_CHARS` characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from openengage.accounts import Account, Principal, hash_key
from openengage.errors import StoreUnavailable
from openengage.store.base import Store

log = logging.getLogger("openengage.auth")
POLL_SECONDS = 0.5
_MAX_ENTRIES = 10_000  # bounds the cache against floods of unknown keys or codes
# License codes are `~` and 8 hex digits, app ids 24 characters; nothing longer is an account's.
MAX_ID_CHARS = 64


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
        failing = False
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.refresh()
            except StoreUnavailable as exc:  # an outage: say so once, not twice a second
                if not failing:
                    log.warning("config poll failed: %s", exc, extra={"action": "auth_poll"})
                failing = True
                continue
            except Exception:
                log.exception("config poll failed", extra={"action": "auth_poll"})
                continue
            if failing:
                log.info("config poll works again", extra={"action": "auth_poll"})
            failing = False

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
        if len(license_code) > MAX_ID_CHARS:
            return None
        if license_code not in self._license:
            self._bounded(self._license)[license_code] = await self.store.account_by_license(license_code)
        return self._license[license_code]

    async def account_by_app_id(self, app_id: str) -> Account | None:
        if len(app_id) > MAX_ID_CHARS:
            return None
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
