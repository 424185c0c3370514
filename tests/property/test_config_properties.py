"""Properties of config loading: env always wins, bad values always give one line naming the field."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from app.commands.config import settings_to_toml
from pairflow.config import load_settings
from pairflow.errors import ConfigError

positive = st.integers(min_value=1, max_value=10**9)
non_positive = st.integers(min_value=-(10**9), max_value=0)
coin_names = st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8), max_size=6)


@contextmanager
def config_file(data: dict) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pairflow.toml"
        path.write_text(tomli_w.dumps(data))
        yield path


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@settings(max_examples=60, deadline=None)
@given(file_rows=positive, env_rows=positive, partitions=positive)
def test_env_override_wins_over_toml(file_rows: int, env_rows: int, partitions: int) -> None:
    data = {"storage": {"batch_max_rows": file_rows}, "broker": {"partitions": partitions}}
    with config_file(data) as path, environment({"PAIRFLOW_STORAGE__BATCH_MAX_ROWS": str(env_rows)}):
        loaded = load_settings(path)
    assert loaded.storage.batch_max_rows == env_rows
    assert loaded.broker.partitions == partitions


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(
        [
            ("storage", "batch_max_rows"),
            ("storage", "buffer_max_rows"),
            ("broker", "partitions"),
            ("collector", "top_n"),
        ]
    ),
    value=non_positive,
    via_env=st.booleans(),
)
def test_non_positive_counts_fail_with_one_line_naming_the_field(
    field: tuple[str, str], value: int, via_env: bool
) -> None:
    section, name = field
    data = {} if via_env else {section: {name: value}}
    env = {f"PAIRFLOW_{section.upper()}__{name.upper()}": str(value)} if via_env else {}
    with config_file(data) as path, environment(env):
        try:
            load_settings(path)
        except ConfigError as error:
            message = str(error)
        else:
            raise AssertionError("invalid value was accepted")
    assert "\n" not in message
    assert f"{section}.{name}: Input should be greater than 0" in message
    assert str(value) in message


@settings(max_examples=60, deadline=None)
@given(dsn=st.text(max_size=40).filter(lambda text: not text.startswith(("chdb://", "http://", "https://"))))
def test_dsn_without_known_scheme_is_rejected(dsn: str) -> None:
    with config_file({"storage": {"dsn": dsn}}) as path:
        try:
            load_settings(path)
        except ConfigError as error:
            assert "\n" not in str(error)
            assert "storage.dsn: must start with 'chdb://', 'http://' or 'https://'" in str(error)
        else:
            raise AssertionError(f"dsn {dsn!r} was accepted")


@settings(max_examples=40, deadline=None)
@given(coins=coin_names, top_n=positive, seed=st.integers(-(2**62), 2**62), speed=st.floats(0.001, 1e6))
def test_shown_config_reloads_to_the_same_settings(coins: list[str], top_n: int, seed: int, speed: float) -> None:
    data = {"collector": {"coins": coins, "top_n": top_n}, "venue": {"seed": seed, "speed": speed}}
    with config_file(data) as path:
        loaded = load_settings(path)
        path.write_text(settings_to_toml(loaded))
        assert load_settings(path) == loaded
