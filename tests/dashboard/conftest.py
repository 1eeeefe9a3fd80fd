"""Fixtures of the dashboard's tests (in-process, both stores).

- `board`: the app on a fresh store of each backend (a Harness: one account, owner owner@acme.test).
- `signed_in(preset)`: a Visitor signed in as a new member with a permission preset: "admin", "manager",
  "custom" (no permission) or "custom:<permission>" (exactly one). `tests.support.dashboard.PRESETS`
  lists them all, for parametrized permission tables.
- `owner`: a Visitor signed in as the account's owner; `anonymous`: one without a session.

Browser tests (tests/dashboard/browser/) have their own fixtures: a real `openengage serve` and
`signed_in_page`, a Playwright page signed in through the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support import dashboard
from tests.support.harness import Harness


@pytest.fixture
def board(database_url: str) -> Iterator[Harness]:
    with Harness(database_url) as harness:
        yield harness


@pytest.fixture
def signed_in(board: Harness) -> Callable[[str], dashboard.Visitor]:
    return lambda preset: dashboard.signed_in(board, preset)


@pytest.fixture
def owner(board: Harness) -> dashboard.Visitor:
    return dashboard.owner(board)


@pytest.fixture
def anonymous(board: Harness) -> dashboard.Visitor:
    return dashboard.Visitor(board)
