"""The backtest's HTML report replaces its file whole, and a path it cannot write is one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.backtest.metrics import compute_metrics
from app.backtest.report import write_report
from app.backtest.run import BacktestResult
from pairflow.errors import ConfigError

HOUR_MS = 3_600_000


def _result() -> BacktestResult:
    curve = [(1_700_000_000_000 + hour * HOUR_MS, 10_000.0 + hour) for hour in range(48)]
    result = BacktestResult([], curve[0][0], curve[-1][0], 10_000.0, curve=curve)
    result.metrics = compute_metrics(curve, 10_000.0, [], 0.0, 0, fees=0.0, funding=0.0, slippage=0.0)
    return result


def test_a_report_replaces_the_old_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("an old report")
    assert write_report(path, _result(), "a run") == path
    html = path.read_text()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>") and "a run" in html
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_report_under_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError) as raised:
        write_report(tmp_path / "a-file" / "report.html", _result(), "a run")
    assert str(raised.value) == f"report {tmp_path / 'a-file' / 'report.html'} cannot be written: Not a directory"
