"""Config loading: TOML file, env overrides, one-line errors, and the `config` CLI."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from app.cli import app
from app.commands.config import settings_to_toml
from pairflow.config import Settings, load_settings
from pairflow.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PAIRFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def set_env(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Set ``PAIRFLOW_<NAME>`` for each keyword, as a user's environment would."""
    for name, value in variables.items():
        monkeypatch.setenv(f"PAIRFLOW_{name}", value)


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert settings.storage.dsn == "chdb:///./data/chdb"
    assert settings.broker.bootstrap_servers == "127.0.0.1:9092"
    assert settings.metrics.port == 0
    assert settings.collector.coins == []
    assert settings.logging.json_output is True
    assert settings.secrets.signing_key is None


def test_every_field_is_documented() -> None:
    for section_name, section in Settings.model_fields.items():
        assert section.description, section_name
        for name, field in section.annotation.model_fields.items():
            assert field.description, f"{section_name}.{name} has no description"


def test_toml_file_is_loaded(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml",
        '[storage]\ndsn = "http://default:pw@ch:8123/pf"\nbatch_max_rows = 5\n'
        '[collector]\ncoins = ["BTC", "ETH"]\nurl = "testnet"\n[logging]\njson = false\nlevel = "debug"\n',
    )
    settings = load_settings(path)
    assert settings.storage.dsn == "http://default:pw@ch:8123/pf"
    assert settings.storage.batch_max_rows == 5
    assert settings.collector.coins == ["BTC", "ETH"]
    assert settings.collector.url == "testnet"
    assert settings.logging.json_output is False
    assert settings.logging.level == "DEBUG"


def test_default_file_in_working_directory_is_used(tmp_path: Path) -> None:
    write(tmp_path / "pairflow.toml", "[broker]\npartitions = 12\n")
    assert load_settings().broker.partitions == 12


def test_pairflow_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "pairflow.toml", "[broker]\npartitions = 12\n")
    other = write(tmp_path / "other.toml", "[broker]\npartitions = 4\n")
    set_env(monkeypatch, CONFIG=str(other))
    assert load_settings().broker.partitions == 4


def test_env_override_wins_over_file_and_keeps_other_file_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "p.toml", '[storage]\ndsn = "chdb:///x"\nbatch_max_rows = 5\n')
    set_env(monkeypatch, STORAGE__BATCH_MAX_ROWS="7", COLLECTOR__COINS='["SOL"]', SECRETS__SIGNING_KEY="0xabc")
    settings = load_settings(path)
    assert settings.storage.batch_max_rows == 7
    assert settings.storage.dsn == "chdb:///x"
    assert settings.collector.coins == ["SOL"]
    assert settings.secrets.signing_key == SecretStr("0xabc")
    assert settings.secrets.signing_key.get_secret_value() == "0xabc"


@pytest.mark.parametrize(
    ("toml", "field", "reason"),
    [
        ("[storage]\nbatch_max_rows = 0\n", "storage.batch_max_rows", "greater than 0"),
        ('[storage]\ndsn = "mysql://x"\n', "storage.dsn", "must start with 'chdb://'"),
        ('[venue]\nport = "abc"\n', "venue.port", "valid integer"),
        ("[metrics]\nport = 70000\n", "metrics.port", "less than or equal to 65535"),
        ('[collector]\nurl = "ftp://x"\n', "collector.url", "'mainnet', 'testnet'"),
        ('[collector]\ncandle_interval = "7m"\n', "collector.candle_interval", "'1m'"),
        ('[logging]\nlevel = "LOUD"\n', "logging.level", "'DEBUG'"),
        ("[storage]\ndsnn = 1\n", "storage.dsnn", "unknown setting"),
        ("[nosuchsection]\na = 1\n", "nosuchsection", "unknown setting"),
    ],
)
def test_invalid_value_gives_one_line_naming_field(tmp_path: Path, toml: str, field: str, reason: str) -> None:
    path = write(tmp_path / "bad.toml", toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid config in {path}: {field}: ")
    assert reason in message


def test_invalid_env_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, BROKER__PARTITIONS="-3")
    with pytest.raises(ConfigError, match=r"^invalid config: broker\.partitions: .*greater than 0 \(received '-3'\)$"):
        load_settings()


def test_invalid_secret_value_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[secrets]\nsigning_key = 12345\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "secrets.signing_key" in str(caught.value)
    assert "12345" not in str(caught.value)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.toml", "[storage\n")
    with pytest.raises(ConfigError, match=r"^config file .*broken\.toml is not valid TOML: "):
        load_settings(path)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file .*nope\.toml was not found$"):
        load_settings(tmp_path / "nope.toml")


def test_config_show_prints_reloadable_toml_with_secrets_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "p.toml", '[storage]\ndsn = "https://bob:hunter2@ch:8443/pf"\n[venue]\nseed = 99\n')
    set_env(monkeypatch, SECRETS__SIGNING_KEY="0xdeadbeef", STORAGE__PASSWORD="s3cret")
    result = CliRunner().invoke(app, ["config", "show", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "0xdeadbeef" not in result.output
    assert "s3cret" not in result.output
    assert "hunter2" not in result.output
    shown = tomllib.loads(result.output)
    assert shown["secrets"]["signing_key"] == "<redacted>"
    assert shown["storage"]["password"] == "<redacted>"
    assert shown["storage"]["dsn"] == "https://bob:<redacted>@ch:8443/pf"
    assert shown["venue"]["seed"] == 99
    assert shown["logging"]["json"] is True


def test_show_output_of_non_secret_settings_round_trips(tmp_path: Path) -> None:
    settings = load_settings()
    path = write(tmp_path / "again.toml", settings_to_toml(settings))
    assert load_settings(path) == settings


def test_config_check_reports_ok_and_errors(tmp_path: Path) -> None:
    good = write(tmp_path / "good.toml", "[broker]\npartitions = 2\n")
    bad = write(tmp_path / "bad.toml", "[broker]\npartitions = 0\n")
    ok = CliRunner().invoke(app, ["config", "check", str(good)])
    assert ok.exit_code == 0
    assert ok.output.strip() == f"{good}: ok"
    failed = CliRunner().invoke(app, ["config", "check", str(bad)])
    assert failed.exit_code == 2
    lines = failed.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid config in") and "broker.partitions" in lines[0]
    assert "Traceback" not in failed.output


def test_show_renders_nested_lists_and_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml",
        '[venue]\nfund = {"0xabc" = 1000.0}\n[[venue.groups]]\ncoins = ["ETH", "SOL"]\nbetas = [1.0, 1.2]\n',
    )
    settings = load_settings(path)
    again = write(tmp_path / "again.toml", settings_to_toml(settings))
    assert load_settings(again) == settings
