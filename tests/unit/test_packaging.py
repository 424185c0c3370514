"""The wheel installs the product's rooms as top-level packages, and not the tests or benchmarks."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_wheel_packages_are_the_rooms_without_tests_or_benchmarks() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    find = config["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(str(REPO), include=find["include"], exclude=find.get("exclude", ()))
    top_level = {name.partition(".")[0] for name in packages}
    rooms = {path.parent.name for path in REPO.glob("*/__init__.py")}
    assert top_level == rooms - {"tests", "benchmarks"}
    assert config["project"]["scripts"]["pairflow"] == "app.cli:main"
