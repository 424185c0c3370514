"""Fuzz: whatever a config file, an environment override or a command-line option holds, pairflow loads it or refuses it in one line.

Three ways settings come in, all validated by the same models: the TOML file (`load_settings`),
``PAIRFLOW_*`` environment variables and command-line options (`with_changes`, which every command uses
to apply its options). Each case either yields settings or raises `ConfigError` with one line; the CLI
turns that into exit code 2 and that line, never a traceback.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from app.cli import app
from pairflow.config import Settings, load_settings, with_changes
from pairflow.errors import ConfigError

SECTIONS = {name: field.annotation for name, field in Settings.model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)}
FIELDS = sorted((section, name) for section, model in SECTIONS.items() for name in model.model_fields)
toml_values = st.recursive(
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def load_text(text: str) -> str | None:
    """Load ``text`` as the config file; return the error line, or None when it loaded."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pairflow.toml"
        path.write_text(text)
        try:
            load_settings(path)
        except ConfigError as error:
            return str(error)
    return None


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_as_a_config_file_loads_or_is_refused_in_one_line(text: str) -> None:
    error = load_text(text)
    assert error is None or (error and "\n" not in error)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), toml_values), min_size=1, max_size=4))
def test_any_values_for_real_settings_load_or_are_refused_in_one_line_naming_the_field(
    values: list[tuple[tuple[str, str], object]],
) -> None:
    data: dict[str, dict[str, object]] = {}
    for (section, name), value in values:
        data.setdefault(section, {})[name] = value
    error = load_text(tomli_w.dumps(data))
    if error is not None:
        assert "\n" not in error
        assert any(f"{section}.{name}" in error for (section, name), _ in values), error


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELDS), toml_values)
def test_any_command_line_override_is_applied_validated_or_refused_in_one_line(
    field: tuple[str, str], value: object
) -> None:
    section, name = field
    try:
        changed = with_changes(getattr(Settings(), section), section, **{name: value})
    except ConfigError as error:
        assert "\n" not in str(error) and f"{section}.{name}" in str(error)
    else:
        assert isinstance(changed, SECTIONS[section])


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(FIELDS), value=st.text(st.characters(exclude_characters="\x00"), max_size=20))
def test_any_environment_override_is_shown_or_refused_with_exit_code_2(field: tuple[str, str], value: str) -> None:
    section, name = field
    variable = f"PAIRFLOW_{section.upper()}__{name.upper()}"
    result = CliRunner().invoke(app, ["config", "show"], env={"PAIRFLOW_CONFIG": None, "NO_COLOR": "1", variable: value})
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
