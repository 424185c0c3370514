"""Prometheus alert rules: promtool unit tests pass, every rule names only catalogued metrics, config loads."""

from __future__ import annotations

import pytest

from tests.observability.support import (
    PROMETHEUS_DIR,
    foreign_series,
    rule_expressions,
    run_tool,
    unknown_metrics,
)

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))


def test_every_rule_file_has_a_promtool_test_file():
    assert RULE_FILES, "no rule files under infra/prometheus/rules"
    tested = {path.name.removesuffix(".test.yml") for path in TEST_FILES}
    assert {path.stem for path in RULE_FILES} == tested


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(path):
    result = run_tool("promtool", "test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"


def test_every_alert_has_a_firing_and_a_quiet_case():
    """A rule is tested both ways: some eval expects it firing and some expects no alert."""
    for rules in RULE_FILES:
        tests = (PROMETHEUS_DIR / "tests" / f"{rules.stem}.test.yml").read_text()
        for alert, _ in rule_expressions(rules):
            blocks = tests.split(f"alertname: {alert}\n")[1:]
            assert blocks, f"{rules.name}: {alert} has no promtool case"
            quiet = [block for block in blocks if block.lstrip().startswith("exp_alerts: []")]
            assert quiet and len(quiet) < len(blocks), f"{rules.name}: {alert} needs a firing and a quiet case"


def test_prometheus_config_and_rules_are_valid():
    result = run_tool("promtool", "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_rules_name_only_catalogued_metrics(path):
    for alert, expr in rule_expressions(path):
        assert not unknown_metrics(expr), f"{path.name}: {alert} names metrics missing from pairflow/metrics.py: {expr}"
        assert not foreign_series(expr), f"{path.name}: {alert} names series pairflow does not export: {expr}"


def test_an_unknown_metric_is_reported_with_its_expression(tmp_path):
    """The checks name the bad metric; promtool names the bad file."""
    assert unknown_metrics("rate(pairflow_collector_reconects_total[5m]) > 0") == ["pairflow_collector_reconects_total"]
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(pairflow_x_total[5m] > 0\n")
    result = run_tool("promtool", "check", "rules", str(broken))
    assert result.returncode != 0 and "broken.yml" in result.stdout + result.stderr
