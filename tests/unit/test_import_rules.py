"""The layout rule of docs/ARCHITECTURE.md, checked on every module's imports.

Each top-level folder is a room with one job and may import only the rooms
listed in ``ALLOWED``; ``app/`` (the composition root), ``tests/`` and
``benchmarks/`` may import anything. Imports are read with :mod:`ast`, so an
import inside a function or under ``TYPE_CHECKING`` counts too: a dependency
is a dependency wherever it is written.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# room -> the other rooms (or dotted sub-packages of them) it may import.
ALLOWED: dict[str, frozenset[str]] = {
    "pairflow": frozenset(),
    "operators": frozenset({"pairflow"}),
    "sources": frozenset({"pairflow"}),
    "sinks": frozenset({"pairflow", "operators", "venue.engine"}),
    "flows": frozenset({"pairflow", "operators", "sources", "sinks"}),
    "venue": frozenset({"pairflow"}),
    "api": frozenset({"pairflow"}),
    "dashboards": frozenset({"pairflow"}),
    "infra": frozenset(),
}
UNRESTRICTED = frozenset({"app", "tests", "benchmarks"})
ROOMS = frozenset(ALLOWED) | UNRESTRICTED


@dataclass(frozen=True)
class Violation:
    """One import a room may not make."""

    path: Path
    line: int
    room: str
    imported: str

    def __str__(self) -> str:
        allowed = ", ".join(sorted(ALLOWED[self.room])) or "no other room"
        return f"{self.path}:{self.line}: {self.room}/ imports {self.imported} (allowed: {allowed})"


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Return ``(line, dotted name)`` of every absolute import; ``from a import b`` gives ``a.b``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def permitted(dotted: str, allowed: frozenset[str]) -> bool:
    """Whether ``dotted`` is one of ``allowed`` or inside one of them."""
    return any(dotted == rule or dotted.startswith(rule + ".") for rule in allowed)


def violations(root: Path, room: str) -> list[Violation]:
    """Every import in ``root/room`` of a room that ``ALLOWED[room]`` does not list."""
    found = []
    for path in sorted((root / room).rglob("*.py")):
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for line, dotted in imported_modules(tree):
            target = dotted.partition(".")[0]
            if target in ROOMS and target != room and not permitted(dotted, ALLOWED[room]):
                found.append(Violation(path.relative_to(root), line, room, dotted))
    return found


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_the_layout_allows(room: str) -> None:
    found = violations(REPO, room)
    assert not found, "imports the layout forbids:\n" + "\n".join(map(str, found))


def test_every_top_level_package_is_a_known_room() -> None:
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")}
    assert packages <= ROOMS, f"unknown rooms {sorted(packages - ROOMS)}: add them to ALLOWED"


def test_checker_reports_file_line_and_room(tmp_path: Path) -> None:
    (tmp_path / "sinks").mkdir()
    (tmp_path / "sinks" / "ok.py").write_text(
        "import json\nfrom venue.engine import Engine\nfrom venue.engine.book import Book\nfrom . import x\n"
    )
    (tmp_path / "sinks" / "bad.py").write_text(
        "from pairflow import config\n\ndef f():\n    from venue import server\n    import flows.ingest\n"
    )
    found = violations(tmp_path, "sinks")
    assert [(str(v.path), v.line, v.imported) for v in found] == [
        ("sinks/bad.py", 4, "venue.server"),
        ("sinks/bad.py", 5, "flows.ingest"),
    ]
    assert str(found[0]) == (
        "sinks/bad.py:4: sinks/ imports venue.server (allowed: operators, pairflow, venue.engine)"
    )
