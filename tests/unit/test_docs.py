"""The docs keep up with the code: every command in the operator guide, the README's first lines."""

from __future__ import annotations

import argparse
from pathlib import Path

from server.cli import build_parser
from server.settings import ROOT


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every leaf command, e.g. "serve" and "user add"."""
    names: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                names.extend(_subcommands(sub, f"{prefix}{name} ") or [f"{prefix}{name}"])
    return names


def _commands() -> list[str]:
    return _subcommands(build_parser())


def test_every_command_is_in_the_operator_guide() -> None:
    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    missing = [name for name in _commands() if f"yichuang {name}" not in guide]
    assert not missing, f"docs/guide.md does not mention: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    head = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:10])
    assert "make run" in head and "make test" in head


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in Path(ROOT / ".ci" / "run").read_text()
