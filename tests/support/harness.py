"""An in-process OpenEngage (real store, real ASGI app, no sockets) with one account."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2 as httpx
from starlette.testclient import TestClient

from openengage.accounts import Credentials
from openengage.app import create_app
from openengage.processor.worker import drain
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Store

T = TypeVar("T")


async def prepare_store(settings: Settings, **account: Any) -> Credentials:
    store = open_store(settings)
    try:
        await store.migrate()
        await store.open()
        return await store.create_account(
            account.pop("name", "acme"), account.pop("owner", "owner@acme.test"), **account
        )
    finally:
        await store.close()


class Harness:
    def __init__(self, database_url: str, limits: dict[str, int] | None = None, **overrides: Any) -> None:
        self.settings = Settings.from_env({}, database_url=database_url, **overrides)
        self.creds = asyncio.run(prepare_store(self.settings, limits=limits))
        self.app = create_app(self.settings)
        self.client = TestClient(self.app, raise_server_exceptions=True)

    def __enter__(self) -> Harness:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    # ------------------------------------------------------------ helpers

    @property
    def store(self) -> Store:
        store: Store = self.app.state.services.store
        return store

    @property
    def lc(self) -> str:
        return self.creds.license_code

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run an async store call on the app's event loop."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(fn, *args)

    def drain(self) -> int:
        return self.call(drain, self.store)

    def refresh_auth(self) -> None:
        self.call(self.app.state.services.auth.refresh)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.creds.api_key}"}

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        lc: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = {"Content-Type": "application/json", **self.auth(key), **(headers or {})}
        url = f"/v1/accounts/{lc or self.lc}{path}"
        if content is not None:
            return self.client.post(url, content=content, headers=h, params=params)
        return self.client.post(url, json=body, headers=h, params=params)

    def get(
        self, path: str, *, key: str | None = None, params: dict[str, Any] | None = None, lc: str | None = None
    ) -> httpx.Response:
        return self.client.get(f"/v1/accounts/{lc or self.lc}{path}", headers=self.auth(key), params=params)

    def data(self, path: str, **kw: Any) -> Any:
        """GET a read-API path and return `response.data` (asserting success)."""
        r = self.get(path, **kw)
        assert r.status_code == 200, r.text
        return r.json()["response"]["data"]

    def profile(self, user_id: str, *, lc: str | None = None, key: str | None = None) -> Any:
        from urllib.parse import quote

        return self.data(f"/users/{quote(user_id, safe='')}", lc=lc, key=key)

    def events(self, user_id: str, *, lc: str | None = None, key: str | None = None, **params: Any) -> Any:
        from urllib.parse import quote

        return self.data(f"/users/{quote(user_id, safe='')}/events", params=params, lc=lc, key=key)

    def basic(self, app_id: str | None = None, key: str | None = None) -> dict[str, str]:
        """MoEngage Basic auth header for this account."""
        raw = f"{app_id or self.creds.app_id}:{key or self.creds.data_api_key}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
