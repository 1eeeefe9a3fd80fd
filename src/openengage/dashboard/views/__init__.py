"""The dashboard's page modules. Each registers its pages with `@page` when imported; add yours to MODULES."""

from __future__ import annotations

import importlib

MODULES = (
    "overview",
    "users",
    "tail",
    "traces",
    "catalogue",
    "quality",
    "integrations",
    "team",
    "audit",
    "business",
    "messaging",
)


def load() -> None:
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
