"""infra/compose: the stack file against the Compose specification, its pairflow commands against the CLI,
its Prometheus config with promtool, and docs/RUNBOOK.md against the alert rules.

No container runtime runs here. tests/fixtures/compose_spec.json is the Compose specification's JSON schema
as shipped in the docker-compose 1.29.2 package (Apache License 2.0, tests/fixtures/compose_spec.LICENSE).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import typer
import yaml
from typer.core import TyperGroup

from app.cli import app
from app.commands.run import STAGES
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


def usage_error(args: list[str]) -> str | None:
    """Parse ``pairflow ARGS`` with the real CLI as far as it goes before running; return its usage error, if any.

    Walks the command groups by name and parses the leaf command's options and arguments, so an unknown command
    or option, a missing required option or argument and a bad value are each reported as pairflow would report
    them (no group takes options of its own, so a group's next argument is its sub-command).
    """
    command = typer.main.get_command(app)
    context = command.make_context("pairflow", list(args))
    path, rest = ["pairflow"], list(args)
    try:
        while isinstance(command, TyperGroup):
            if not rest:
                return f"{' '.join(path)} needs a command"
            name, command, rest = command.resolve_command(context, rest)
            path.append(name)
        command.make_context(" ".join(path), rest)
    except Exception as error:  # typer's own click raises these; typer exports none of their classes
        if not hasattr(error, "format_message"):
            raise
        return error.format_message()
    return None


@pytest.mark.parametrize("name", sorted(PAIRFLOW_SERVICES))
def test_every_pairflow_service_runs_a_valid_command(name: str) -> None:
    command = PAIRFLOW_SERVICES[name]["command"]
    assert usage_error(command) is None
    # pairflow run checks its STAGE when it runs (a one-line error, exit 2), after the parse above.
    assert command[0] != "run" or command[1] in STAGES


@pytest.mark.parametrize(("args", "error"), [
    (["run", "--workers", "2"], "Missing argument 'stage'"),
    (["dashboards", "export", "--prometheus-url", "http://prometheus:9090"], "Missing argument 'directory'"),
    (["alertmanager", "config", "--out", "/rendered/alertmanager.yml"], "Missing option '--secrets-dir'"),
    (["run", "ingest", "--recovery-dir", "/data/recovery", "--bogus"], "No such option: --bogus"),
    (["run", "ingest", "--workers", "two"], "Invalid value for '--workers' / '-w'"),
    (["db", "initialise"], "No such command 'initialise'"),
    (["db"], "pairflow db needs a command"),
])
def test_the_command_check_refuses_what_pairflow_would(args: list[str], error: str) -> None:
    found = usage_error(args)
    assert found is not None and error in found, found


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


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Return infra/compose/Dockerfile's build stages as ``(INSTRUCTION, arguments)`` lists (never built here)."""
    text = (COMPOSE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        name, arguments = line.split(maxsplit=1)
        if name.upper() == "FROM":
            stages.append([])
        stages[-1].append((name.upper(), arguments))
    return stages


def copies(stage: list[tuple[str, str]]) -> list[tuple[str | None, list[str], str]]:
    """Return each COPY of ``stage`` as ``(source stage or None for the build context, sources, destination)``."""
    found = []
    for name, arguments in stage:
        if name == "COPY":
            words = arguments.split()
            flags = dict(word.removeprefix("--").split("=", 1) for word in words if word.startswith("--"))
            paths = [word for word in words if not word.startswith("--")]
            found.append((flags.get("from"), paths[:-1], paths[-1]))
    return found


def docker_ignored() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerfile_installs_the_packages_with_the_built_ui_and_enters_the_cli() -> None:
    *_, final = dockerfile_stages()
    assert {name for name, _ in final} <= {"FROM", "WORKDIR", "COPY", "RUN", "USER", "ENTRYPOINT"}
    copied = [source for stage, sources, _ in copies(final) if stage is None for source in sources]
    assert [source for source in copied if not (ROOT / source).exists()] == []
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(copied), "pip install . in the image would miss a package"
    # The UI stage's output lands where the api package data (and so the wheel) takes it from, before pip runs.
    (ui,) = [(index, destination) for index, (stage, _, destination) in enumerate(copies(final)) if stage == "web"]
    assert ui[1] == "api/web/dist" and all(pattern.startswith("web/dist/")
                                           for pattern in project["tool"]["setuptools"]["package-data"]["api"])
    runs = [arguments for name, arguments in final if name == "RUN"]
    assert runs[0].startswith("pip install --no-cache-dir . ")
    assert ui[0] == len(copies(final)) - 1, "the UI is copied after every other source, before pip install"
    entrypoint = json.loads(next(arguments for name, arguments in final if name == "ENTRYPOINT"))
    assert entrypoint == ["pairflow"] and project["project"]["scripts"]["pairflow"] == "app.cli:main"
    assert all(service.get("entrypoint", entrypoint) == entrypoint for service in PAIRFLOW_SERVICES.values())


def test_dockerfile_ui_stage_copies_every_file_the_ui_build_reads() -> None:
    first, *_ = dockerfile_stages()
    assert first[0] == ("FROM", "node:20-slim AS web")
    sources = [source for _, paths, _ in copies(first) for source in paths]
    assert [arguments for name, arguments in first if name == "RUN"] == ["npm ci --no-audit --no-fund", "npm run build"]
    web = ROOT / "api" / "web"
    assert "build" in json.loads((web / "package.json").read_text())["scripts"]
    generated = {"node_modules", "dist", ".build-stamp", "schema.d.ts", ".gitignore"}
    inputs = [path for path in web.rglob("*") if path.is_file() and not generated & set(path.relative_to(web).parts)]
    assert len(inputs) > 10
    covered = [ROOT / source for source in sources]
    assert [str(path) for path in inputs if not any(path == found or found in path.parents for found in covered)] == []


def test_dockerignore_keeps_local_state_out_and_every_copied_source_in() -> None:
    ignored = docker_ignored()
    assert {".venv", "api/web/node_modules", "api/web/dist", ".git"} <= set(ignored)
    copied = [source for stage in dockerfile_stages() for origin, sources, _ in copies(stage) if origin is None
              for source in sources]
    assert [source for source in copied if any(source == pattern or source.startswith(pattern + "/")
                                                for pattern in ignored)] == []


def test_dockerfile_runs_as_the_non_root_user_it_creates() -> None:
    *_, final = dockerfile_stages()
    users = [arguments for name, arguments in final if name == "USER"]
    created = re.search(r"useradd --uid (\d+) ", next(arguments for name, arguments in final if name == "RUN"))
    assert created and users == [created[1]] and int(users[0]) != 0
    assert [index for index, (name, _) in enumerate(final) if name == "USER"][0] > [
        index for index, (name, _) in enumerate(final) if name == "RUN"][-1], "nothing runs as root after USER"
