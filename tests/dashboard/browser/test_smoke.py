"""The browser fixture itself: signed in, on the overview."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow  # a real server and a real browser


def test_signed_in_page_is_on_the_overview(signed_in_page: Any) -> None:
    lc = signed_in_page.oe.first_run["license_code"]
    assert signed_in_page.url.endswith(f"/dashboard/accounts/{lc}/")
    expect(signed_in_page.get_by_role("heading", name="Overview")).to_be_visible()
