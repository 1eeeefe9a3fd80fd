"""Who is calling: accounts by license code or app id, team members by API key hash.

Lookups are cached per process and the whole cache is dropped whenever the store's config version
moves (every admin change bumps it), which the poller checks twice a second: a revoked key, a new
account or a new limit takes effect on every node within a second.

The caches also remember unknown license codes and app ids (a flood of them must not reach the
store), so what a client can put in them is bounded: an id longer than any real one is refused before
any lookup, and each cache holds at most `_MAX_ENTRIES` entries of at most `MAX_ID_CHARS` characters.

When a key was last used (the dashboard shows it) costs the hot path one dict assignment: uses are
remembered in memory, stamped with a clock the poller advances, and written to the store every
`FLUSH_SECONDS` (and at shutdown) in one transaction per node, never one write per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from openengage.accounts import Account, Principal, hash_key
from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store.base import Store

log = logging.getLogger("openengage.auth")
POLL_SECONDS = 0.5
FLUSH_SECONDS = 5.0  # how stale a key's "last used" may be
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
        self._clock = now_ms()  # advanced by the poller: the hot path reads no clock
        self._used: dict[str, int] = {}  # key hash -> last use, not yet written
        self._flushed_at = self._clock

    def clear(self) -> None:
        self._license.clear()
        self._app.clear()
        self._keys.clear()

    async def refresh(self) -> None:
        version = await self.store.config_version()
        if version != self.version:
            self.clear()
            self.version = version

    async def flush_key_uses(self) -> None:
        """Write the remembered key uses; on failure they are kept for the next flush."""
        uses, self._used = self._used, {}
        self._flushed_at = self._clock
        try:
            await self.store.note_key_use(uses)
        except BaseException:
            for digest, at in uses.items():
                self._used[digest] = max(at, self._used.get(digest, 0))
            raise

    async def _poll(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(POLL_SECONDS)
            self._clock = now_ms()
            try:
                await self.refresh()
                if self._used and self._clock - self._flushed_at >= FLUSH_SECONDS * 1000:
                    await self.flush_key_uses()
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
        if self._used:
            try:
                await self.flush_key_uses()
            except Exception:  # shutting down with the store gone: a "last used" time is not worth a hang
                log.warning("could not record when keys were last used", extra={"action": "key_use"})

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
        found = self._keys[digest]
        if found is not None:
            self._used[digest] = self._clock
        return found


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
