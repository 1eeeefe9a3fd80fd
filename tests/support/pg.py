"""PostgreSQL test databases (implemented with the PostgreSQL store)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    raise NotImplementedError("the PostgreSQL store is not implemented yet")
    yield url
