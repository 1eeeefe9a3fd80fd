"""Imports flow one way: leaves -> store -> processor | api -> app -> serve/cli."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "openengage"
LEAVES = {"records", "accounts", "rules", "errors", "settings", "lifecycle", "metrics", "__init__"}
LAYER = {
    **{name: 0 for name in LEAVES},
    "store": 1,
    "processor": 2,
    "api": 2,
    "dashboard": 2,
    "app": 3,
    "transfer": 3,
    "serve": 4,
    "protocol": 3,
    "cli": 5,
}


def top(module: str) -> str:
    return module.split(".")[1] if module.startswith("openengage.") else ""


def test_imports_flow_one_way() -> None:
    problems = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        owner = rel.parts[0].removesuffix(".py")
        if owner == "__main__":  # `python -m openengage` is the CLI
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("openengage"):
                target = top(node.module)
                if not target:
                    continue
                if owner in ("processor", "api", "dashboard") and target in ("processor", "api", "dashboard"):
                    if target != owner:
                        problems.append(f"{rel}: {owner} must not import {target}")
                    continue
                same_layer_ok = LAYER[owner] == 0  # leaves may use each other
                if target != owner and (
                    LAYER[target] > LAYER[owner] or (LAYER[target] == LAYER[owner] and not same_layer_ok)
                ):
                    problems.append(f"{rel}: {owner} (layer {LAYER[owner]}) imports {target} (layer {LAYER[target]})")
    assert problems == []
