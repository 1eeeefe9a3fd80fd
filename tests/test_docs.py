"""Docs stay true: every setting and every CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from openengage.cli import main
from openengage.settings import ENV_PREFIX, SETTINGS

DOCS = Path(__file__).parents[1] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = [s.name for s in SETTINGS if f"{ENV_PREFIX}{s.name.upper()}" not in text]
    assert missing == []


def command_names() -> list[str]:
    """`openengage COMMAND` and `openengage GROUP COMMAND`, for every command the CLI has."""
    names: list[str] = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            names += [f"openengage {name} {sub}" for sub in command.commands]
        else:
            names.append(f"openengage {name}")
    return names


def names_command(text: str, name: str) -> bool:
    """`text` names the command as a whole (`openengage keys list`, not `... keys list-all` or `... keys`)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def undocumented(text: str) -> list[str]:
    return [n for n in command_names() if not names_command(text, n)]


def test_every_command_is_documented() -> None:
    assert undocumented((DOCS / "operations.md").read_text()) == []


def test_deleting_a_commands_docs_line_fails_the_check() -> None:
    text = (DOCS / "operations.md").read_text()
    for name in command_names():
        without = "\n".join(line for line in text.splitlines() if not names_command(line, name))
        assert name in undocumented(without), name


def test_commands_are_matched_whole() -> None:
    assert names_command("| `openengage members list LC` | ... |", "openengage members list")
    assert names_command("run openengage serve.", "openengage serve")
    assert not names_command("openengage members list-all LC", "openengage members list")
    assert not names_command("openengage members", "openengage members list")
    assert not names_command("list, show and set-limit", "openengage accounts show")
