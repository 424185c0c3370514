"""Every command's --help explains every option, shows all of its own text and gives examples that parse.

Typer renders help through rich markup, so a bracketed word such as
``[strategy]`` in a docstring silently disappears from the screen; these tests
walk the whole command tree so no command can lose text or leave an option
unexplained.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
from rich.errors import MarkupError
from rich.text import Text
from click import Command
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from app.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name, sub in sorted(command.commands.items()):
            found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(get_command(app))
_BRACKETED = re.compile(r"\[[^\]]*\]")


def _texts(command: Any) -> list[tuple[str, str]]:
    return [("help", command.help or "")] + [
        (param.name or "", param.help or "") for param in command.params if param.param_type_name == "option"
    ]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "pairflow" for path, _ in COMMANDS])
def test_help_text_survives_rich_markup(path: tuple[str, ...], command: Any) -> None:
    for where, text in _texts(command):
        text = text.replace("\b", "")  # click's keep-these-lines-as-written marker, not shown
        try:
            shown = Text.from_markup(text).plain
        except MarkupError as error:
            pytest.fail(f"{' '.join(path)} {where}: {error}")
        hidden = _BRACKETED.findall(text)
        assert shown == text, f"{' '.join(path)} {where}: markup hides {hidden}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "pairflow" for path, _ in COMMANDS])
def test_every_option_is_explained(path: tuple[str, ...], command: Any) -> None:
    assert (command.help or "").strip(), f"{' '.join(path)} has no description"
    unexplained = [param.opts[0] for param in command.params
                   if param.param_type_name == "option" and param.name != "help" and not (param.help or "").strip()]
    assert not unexplained, f"{' '.join(path)}: {unexplained}"


def test_demo_help_names_where_its_spreads_come_from() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], terminal_width=200)
    assert result.exit_code == 0
    shown = " ".join(result.output.replace("│", " ").split())
    assert "else the config's strategy.pairs; else the venue's planted cointegrated groups" in shown


def _examples(command: Any) -> list[str]:
    """Return the command lines listed under ``Examples:`` in a help text."""
    _, marker, listed = (command.help or "").partition("Examples:")
    return [line.strip() for line in listed.splitlines() if line.strip().startswith("pairflow ")] if marker else []


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "pairflow" for path, _ in COMMANDS])
def test_every_command_shows_an_example_of_itself(path: tuple[str, ...], command: Any) -> None:
    examples = _examples(command)
    assert examples, f"{' '.join(path) or 'pairflow'} --help gives no example"
    assert all(shlex.split(line)[: len(path) + 1] == ["pairflow", *path] for line in examples), examples


_ALL_EXAMPLES = sorted({line for _, command in COMMANDS for line in _examples(command)})


@pytest.mark.parametrize("line", _ALL_EXAMPLES)
def test_every_example_parses_with_the_real_app(line: str) -> None:
    """Each example names real commands, options and values of the right type (nothing is run)."""
    command: Command = get_command(app)
    words = shlex.split(line)[1:]
    while isinstance(command, TyperGroup) and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    assert not isinstance(command, TyperGroup), f"{line!r} names no command"
    context = command.make_context(line, list(words))
    assert not context.args and not getattr(context, "protected_args", []), f"{line!r}: left over {context.args}"
