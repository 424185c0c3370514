"""Alertmanager configuration: rendered with secrets from files, valid for amtool, routed by severity."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typer.testing import CliRunner

from app.cli import app
from pairflow.alertmanager import render_alertmanager_config, secret_names, template_text
from pairflow.errors import ConfigError
from tests.observability.support import run_tool

SECRETS = {
    "webhook_url": "https://hooks.example.invalid/pairflow",
    "slack_api_url": "https://hooks.slack.invalid/services/T0/B0/abc",
    "slack_channel": "#pairflow-alerts",
    "telegram_bot_token": "123456:ABC-def_ghi",
    "telegram_chat_id": "-1001234567",
}


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name, value in SECRETS.items():
        (folder / name).write_text(value + "\n")
    return folder


@pytest.fixture
def rendered(secrets_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(secrets_dir))
    return path


def test_the_template_holds_no_secret_and_names_each_receiver_secret():
    text = template_text()
    assert secret_names(text) == sorted(SECRETS)
    for value in SECRETS.values():
        assert value not in text


def test_rendered_config_passes_amtool_with_the_three_receiver_kinds(rendered):
    result = run_tool("amtool", "check-config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 receivers" in result.stdout
    text = rendered.read_text()
    for kind in ("webhook_configs", "slack_configs", "telegram_configs"):
        assert kind in text
    assert "chat_id: -1001234567" in text and '"123456:ABC-def_ghi"' in text


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=PairflowProcessDown"], "critical"),
        (["severity=warning", "alertname=PairflowIngestLag"], "warning"),
        (["severity=info", "alertname=Note"], "webhook"),
    ],
)
def test_routes_send_each_severity_to_its_receivers(rendered, labels, receiver):
    result = run_tool("amtool", "config", "routes", "test", f"--config.file={rendered}", *labels)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def test_a_missing_secret_file_is_one_line_naming_it(secrets_dir):
    (secrets_dir / "telegram_bot_token").unlink()
    with pytest.raises(ConfigError, match=r"secret file .*telegram_bot_token cannot be read") as caught:
        render_alertmanager_config(secrets_dir)
    assert "\n" not in str(caught.value)


def test_an_empty_secret_file_is_refused(secrets_dir):
    (secrets_dir / "slack_api_url").write_text("  \n")
    with pytest.raises(ConfigError, match="slack_api_url is empty"):
        render_alertmanager_config(secrets_dir)


def test_a_secret_with_quotes_stays_one_scalar(secrets_dir, tmp_path):
    (secrets_dir / "telegram_bot_token").write_text('12:a"b\\c')
    path = tmp_path / "am.yml"
    path.write_text(render_alertmanager_config(secrets_dir))
    assert run_tool("amtool", "check-config", str(path)).returncode == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(str.strip))
def test_any_token_renders_to_a_config_amtool_accepts(secrets_dir, tmp_path, token):
    (secrets_dir / "telegram_bot_token").write_text(token)
    path = tmp_path / "am.yml"
    path.write_text(render_alertmanager_config(secrets_dir))
    result = run_tool("amtool", "check-config", str(path))
    assert result.returncode == 0, f"{token!r}: {result.stdout}{result.stderr}"


def test_the_command_writes_a_private_file_amtool_accepts(secrets_dir, tmp_path):
    out = tmp_path / "rendered.yml"
    result = CliRunner().invoke(app, ["alertmanager", "config", "--secrets-dir", str(secrets_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    assert run_tool("amtool", "check-config", str(out)).returncode == 0


def test_an_out_path_that_cannot_be_written_is_one_line(secrets_dir, tmp_path):
    """A directory, a missing parent or /proc as --out ended in a traceback."""
    for out, reason in ((tmp_path, "Is a directory"), (tmp_path / "missing" / "am.yml", "No such file or directory"),
                        (Path("/proc/am.yml"), "No such file or directory")):
        result = CliRunner().invoke(app, ["alertmanager", "config", "--secrets-dir", str(secrets_dir), "--out", str(out)])
        assert result.exit_code == 2 and f"error: --out {out} cannot be written: {reason}" in result.output, result.output
