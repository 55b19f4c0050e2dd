"""The documentation stays true: CLI reference current, every command has an example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from emo.cli import EXIT_CODES, app

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_cli_reference",
                                                  DOCS / "make_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    generator = _load_generator()
    assert (DOCS / "cli.md").read_text() == generator.render(), (
        "docs/cli.md is stale: run python docs/make_cli_reference.py")


def test_every_command_and_option_has_help_with_an_example() -> None:
    generator = _load_generator()
    commands = generator._commands(typer.main.get_command(app), "emo")
    assert len(commands) >= 12
    for path, command in commands:
        assert "Example: emo" in (command.help or ""), f"{path} has no example"
        for param in command.params:
            assert getattr(param, "help", None), f"{path} {param.name} has no help"


def test_exit_codes_are_in_the_help_and_the_reference() -> None:
    root = typer.main.get_command(app)
    assert EXIT_CODES in root.help
    assert EXIT_CODES in (DOCS / "cli.md").read_text()
