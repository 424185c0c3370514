"""infra/compose: the stack file against the Compose specification, its pairflow commands against the CLI,
its Prometheus config with promtool, and docs/RUNBOOK.md against the alert rules.

No container runtime runs here. tests/fixtures/compose_spec.json is the Compose specification's JSON schema
as shipped in the docker-compose 1.29.2 package (Apache License 2.0, tests/fixtures/compose_spec.LICENSE).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import jsonschema
import pytest
import typer
import yaml

from app.cli import app
from pairflow.redaction import is_secret_name
from tests.observability.support import PROMETHEUS_DIR, rule_expressions, run_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "infra" / "compose"
COMPOSE = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "compose_spec.json").read_text())
PAIRFLOW_SERVICES = {name: service for name, service in COMPOSE["services"].items() if service.get("entrypoint") == ["pairflow"]}
ONE_SHOT = {"db-init", "grafana-provision", "alertmanager-config"}


def schema_errors(document: dict) -> list[str]:
    return [f"{list(error.path)}: {error.message}" for error in jsonschema.Draft201909Validator(SCHEMA).iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(COMPOSE) == []


def test_the_schema_check_rejects_what_compose_would() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["ingest"]["comand"] = ["ingest"]
    broken["services"]["prometheus"]["healthcheck"]["interval"] = 15
    errors = schema_errors(broken)
    assert len(errors) == 2
    assert "['services', 'ingest']: 'comand' does not match" in errors[0] + errors[1]
    assert any(error.startswith("['services', 'prometheus', 'healthcheck', 'interval']") for error in errors)


def resolve(args: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """Walk the CLI's groups along ``args``; return the sub-command path, its command and its own arguments."""
    command: click.Command = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest, f"{args} stops at the group {' '.join(path) or 'pairflow'}"
        name = rest.pop(0)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"{args}: no command {name!r} under {' '.join(path) or 'pairflow'}"
        command, path = found, [*path, name]
    return path, command, rest


@pytest.mark.parametrize("name", sorted(PAIRFLOW_SERVICES))
def test_every_pairflow_service_runs_a_valid_command(name: str) -> None:
    path, command, rest = resolve(PAIRFLOW_SERVICES[name]["command"])
    command.make_context(" ".join(["pairflow", *path]), rest)  # raises on an unknown option or a bad value
    shown = subprocess.run([sys.executable, "-m", "app", *path, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr


def test_long_running_services_have_health_checks_limits_and_restart() -> None:
    for name, service in COMPOSE["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        assert service["healthcheck"]["test"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["restart"] == "unless-stopped", name


def test_secrets_are_files_with_an_example_each_and_no_secret_is_inline() -> None:
    for name, secret in COMPOSE["secrets"].items():
        assert secret["file"].startswith("./secrets/"), name
        assert (COMPOSE_DIR / "secrets.example" / secret["file"].removeprefix("./secrets/")).is_file(), name
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            assert not is_secret_name(variable) or variable.endswith("__FILE"), (name, variable)
    checked = subprocess.run(
        [sys.executable, "-m", "app", "config", "check", str(COMPOSE_DIR / "secrets.example" / "pairflow.toml")],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert checked.returncode == 0, checked.stderr


def test_prometheus_scrapes_every_stage_on_its_metrics_port_and_loads_the_rules(tmp_path: Path) -> None:
    config = (COMPOSE_DIR / "prometheus.yml").read_text()
    for name, service in PAIRFLOW_SERVICES.items():
        port = service.get("environment", {}).get("PAIRFLOW_METRICS__PORT")
        if port is not None:
            assert f"- job_name: pairflow-{name}\n" in config and f"['{name}:{port}']" in config, name
    shutil.copy(COMPOSE_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(PROMETHEUS_DIR / "rules", tmp_path / "rules")
    result = run_tool("promtool", "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runbook_says_what_each_alert_means() -> None:
    runbook = (ROOT / "docs" / "RUNBOOK.md").read_text()
    alerts = [alert for rules in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")) for alert, _ in rule_expressions(rules)]
    assert alerts
    assert [alert for alert in alerts if f"`{alert}`" not in runbook] == []


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return ``(INSTRUCTION, arguments)`` of infra/compose/Dockerfile (no container runtime builds it here)."""
    text = (COMPOSE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def test_dockerfile_copies_the_installed_packages_and_enters_the_cli() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM"
    assert {name for name, _ in instructions} <= {"FROM", "WORKDIR", "COPY", "RUN", "USER", "ENTRYPOINT"}
    copied = [source for name, arguments in instructions if name == "COPY" for source in arguments.split()[:-1]]
    assert [source for source in copied if not (ROOT / source).exists()] == []
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(copied), "pip install . in the image would miss a package"
    entrypoint = json.loads(next(arguments for name, arguments in instructions if name == "ENTRYPOINT"))
    assert entrypoint == ["pairflow"] and project["project"]["scripts"]["pairflow"] == "app.cli:main"
    assert all(service.get("entrypoint", entrypoint) == entrypoint for service in PAIRFLOW_SERVICES.values())
