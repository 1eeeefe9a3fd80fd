"""Building blocks for store tests: open a migrated store, make submissions, drain."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from openengage.processor.worker import Worker, drain
from openengage.records import EventRecord, Record, UserRecord, encode_records
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Store, Submission

T = TypeVar("T")


@contextlib.asynccontextmanager
async def opened(url: str, **settings: Any) -> AsyncIterator[Store]:
    store = open_store(Settings.from_env({}, database_url=url, **settings))
    await store.migrate()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def run(url: str, fn: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        async with opened(url) as store:
            return await fn(store)

    return asyncio.run(main())


def submission(
    account_id: int,
    records: list[Record],
    *,
    bucket: str = "users",
    limit: int = 0,
    cost: int = 1,
    request_id: str | None = None,
) -> Submission:
    return Submission(account_id, bucket, cost, limit, encode_records(records), len(records), request_id)


def user(user_id: str, **attributes: Any) -> UserRecord:
    return UserRecord(user_id=user_id, attributes=attributes)


def event(user_id: str | None, name: str = "Seen", anonymous_id: str | None = None, **data: Any) -> EventRecord:
    return EventRecord(name=name, user_id=user_id, anonymous_id=anonymous_id, data=data)


async def drain_all(store: Store) -> int:
    return await drain(store, 2000)


async def process_once(store: Store, limit: int = 2000) -> int:
    """One claim of at most `limit` records; 0 when nothing was pending."""
    return await Worker(store, limit).step() or 0
