"""Imports flow one way: leaves -> store -> processor | api | dashboard | messaging -> app -> serve/cli.

And the parts that face clients (api, dashboard, messaging) see the store only through its contract:
`openengage.store` (open_store) and `openengage.store.base` (the Store protocol and its typed rows), never
a backend, the executor-based modules or the store's helpers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "openengage"
LEAVES = {
    *("records", "accounts", "rules", "errors", "settings", "lifecycle", "metrics", "reasons"),
    *("operations", "__init__"),
}
LAYER = {
    **{name: 0 for name in LEAVES},
    "store": 1,
    "processor": 2,
    "api": 2,
    "dashboard": 2,
    "messaging": 2,
    "app": 3,
    "transfer": 3,
    "serve": 4,
    "protocol": 3,
    "cli": 5,
}
SIBLINGS = ("processor", "api", "dashboard", "messaging")  # never import each other
CLIENT_FACING = ("api", "dashboard", "messaging")
STORE_CONTRACT = {"openengage.store", "openengage.store.base"}


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every openengage module `source` (the code of `module`) imports, submodules named in `from` included."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("openengage"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            if not base.startswith("openengage"):
                continue
            yield base
            for alias in node.names:
                if _is_module(f"{base}.{alias.name}"):
                    yield f"{base}.{alias.name}"


def top(module: str) -> str:
    return module.split(".")[1] if module.startswith("openengage.") else ""


def problems_in(rel: Path, source: str) -> list[str]:
    owner = rel.parts[0].removesuffix(".py")
    if owner == "__main__":  # `python -m openengage` is the CLI
        return []
    if owner not in LAYER:
        return [f"{rel}: {owner} is in no layer (add it to tests/test_layers.py)"]
    module = "openengage." + ".".join(rel.with_suffix("").parts)
    problems = []
    for target_module in imported_modules(source, module):
        target = top(target_module)
        if not target or target == owner:
            continue
        if target not in LAYER:
            problems.append(f"{rel}: imports {target_module}, which is in no layer")
            continue
        if owner in CLIENT_FACING and target == "store" and target_module not in STORE_CONTRACT:
            problems.append(f"{rel}: {owner} imports {target_module}; use openengage.store.base (the contract)")
        if owner in SIBLINGS and target in SIBLINGS:
            problems.append(f"{rel}: {owner} must not import {target}")
            continue
        same_layer_ok = LAYER[owner] == 0  # leaves may use each other
        if LAYER[target] > LAYER[owner] or (LAYER[target] == LAYER[owner] and not same_layer_ok):
            problems.append(f"{rel}: {owner} (layer {LAYER[owner]}) imports {target} (layer {LAYER[target]})")
    return problems


def test_imports_flow_one_way() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += problems_in(path.relative_to(PACKAGE), path.read_text())
    assert problems == []


def test_the_check_catches_what_it_forbids() -> None:
    api = Path("api/example.py")
    forbidden = [
        "from openengage.store.common import json_decode",
        "from openengage.store import common",
        "from openengage.store.sqlite.store import SqliteStore",
        "import openengage.store.postgres.executor",
        "from openengage.store.reads import Reads",
        "from openengage.processor import planner",
        "from openengage.app import create_app",
        "from ..store import admin",
    ]
    for line in forbidden:
        assert problems_in(api, line), line
    for line in ("from openengage.store.base import Store, Page", "from openengage.store import open_store"):
        assert problems_in(api, line) == [], line
    assert problems_in(Path("dashboard/routes.py"), "from openengage.store.admin import Admin")
    assert problems_in(Path("messaging/outbox.py"), "from openengage.store.common import json_encode")
    assert problems_in(Path("store/base.py"), "from openengage.api import shapes")
    assert problems_in(Path("cli.py"), "from openengage.store.common import json_encode") == []  # above the edge
