"""Docs stay true: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import click

from openengage.cli import main
from openengage.settings import ENV_PREFIX, SETTINGS

DOCS = Path(__file__).parents[1] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = [s.name for s in SETTINGS if f"{ENV_PREFIX}{s.name.upper()}" not in text]
    assert missing == []


def test_every_command_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    names: list[str] = []
    for name, command in main.commands.items():
        names.append(name)
        if isinstance(command, click.Group):
            names += list(command.commands)
    assert [n for n in names if n not in text] == []
