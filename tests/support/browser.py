"""A real browser for the dashboard: Debian's chromium (never a downloaded build) driven by Playwright.

Chromium is started so that it makes no connection of its own (no updates, no safe-browsing lists, no
metrics, no sync): the only address it talks to is the test server on 127.0.0.1. Without
/usr/bin/chromium the browser tests are skipped, except under CI=true, where that is a failure
(.ci/run installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
QUIET_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--password-store=basic",
]


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


def screenshot(page: object, name: str) -> Path:
    """Write docs/screenshots/<name>.png: the whole page as the browser shows it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
