"""``pairflow scan`` end to end: candles in chDB -> scan -> pair_stats rows, JSON or table, charts."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

from app.cli import app
from pairflow.events import PairStats
from sources.scan_universe import latest_accepted_spreads
from tests.broker import TansuBroker, consume_all
from pairflow.config import StorageSettings
from pairflow.storage import connect
from tests.helpers import SHARED
from tests.unit.test_scan import GROUPS, synthetic_panel

HISTORY = SHARED / "data" / "hyperliquid" / "perp_1h_ohlcv_2024-09_2025-02.csv"


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def import_synthetic_bars(cli_env: Path) -> None:
    """Import one-minute bars of the venue's factor model (two planted groups) as a wide CSV."""
    panel = synthetic_panel(seed=2)
    wide = cli_env / "synthetic.csv"
    rows = [",".join(["timestamp", *panel.coins])]
    rows += [",".join([str(1_700_000_000_000 + int(ts)), *(f"{px:.8g}" for px in closes)])
             for ts, closes in zip(panel.times, panel.closes)]
    wide.write_text("\n".join(rows) + "\n")
    invoke("data", "import", str(wide))


def test_scan_of_imported_synthetic_bars_records_every_candidate(cli_env: Path) -> None:
    import_synthetic_bars(cli_env)

    report = json.loads(invoke("scan", "--interval", "1m", "--format", "json", "--plot", str(cli_env / "charts")))
    accepted = {frozenset(s["coins"]) for s in report["spreads"] if s["accepted"]}
    assert {frozenset(g.coins) for g in GROUPS} <= accepted and len(accepted) == 8
    assert report["tests"] == 2 * sum(1 for s in report["spreads"] if s["kind"] == "pair")
    charts = sorted(path.name for path in (cli_env / "charts").iterdir())
    assert "correlation.png" in charts and len(charts) == 7  # heatmap + the top six accepted spreads

    narrow = json.loads(invoke("scan", "--interval", "1m", "--universe", "ETH,SOL,NOPE", "--format", "json"))
    assert narrow["coins"] == ["ETH", "SOL"] and narrow["excluded"] == {"NOPE": "no 1m candles in the range"}

    with connect(StorageSettings(dsn=f"chdb://{cli_env}/db")) as store:
        stored = store.query_dicts(
            "SELECT scan_id, pair, kind, accepted, reason, qvalue, qvalue_reverse, weights, parameters, observations"
            " FROM pair_stats_v WHERE scan_id = {scan:String} ORDER BY rank", {"scan": report["scan_id"]}
        )
    assert len(stored) == len(report["spreads"]) and {row["scan_id"] for row in stored} == {report["scan_id"]}
    assert all(row["reason"] == "" for row in stored if row["accepted"])
    assert all(row["reason"] for row in stored if not row["accepted"])
    first = stored[0]
    assert first["accepted"] and first["kind"] == "pair" and first["weights"][0] == 1.0
    assert min(first["qvalue"], first["qvalue_reverse"]) <= 0.05
    assert json.loads(first["parameters"])["fdr"] == 0.05 and first["observations"] == 2_000


@pytest.mark.broker
def test_a_published_scan_puts_its_accepted_spreads_on_pf_pair_stats(
    cli_env: Path, tansu_broker_fn: TansuBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_synthetic_bars(cli_env)
    monkeypatch.setenv("PAIRFLOW_BROKER__BOOTSTRAP_SERVERS", tansu_broker_fn.bootstrap_servers)

    report = json.loads(invoke("scan", "--interval", "1m", "--format", "json", "--publish",
                               "--universe", "ETH,SOL,AVAX,BTC,DOGE"))
    accepted = {"/".join(s["coins"]) for s in report["spreads"] if s["accepted"]}
    assert any(s["accepted"] for s in report["spreads"] if s["kind"] == "basket")
    published = [msgspec.json.decode(m.value(), type=PairStats)
                 for m in consume_all(tansu_broker_fn, "pf.pair_stats", len(accepted))]
    with connect(StorageSettings(dsn=f"chdb://{cli_env}/db")) as store:
        stored = latest_accepted_spreads(store, "1m")
    assert {p.pair for p in published} == accepted and sorted(published, key=lambda p: p.id) == sorted(
        stored, key=lambda p: p.id)
    assert all(p.scan_id == report["scan_id"] and p.accepted for p in published)
    # A basket travels with no Engle-Granger p-value (NULL in the store, null in JSON), a pair with its own.
    assert {p.kind for p in published if p.eg_pvalue is None} == {"basket"}
    assert all(0 <= p.eg_pvalue <= 1 for p in published if p.kind == "pair")


def test_scan_options_are_validated_with_one_line(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["scan", "--fdr", "1.5"])
    assert result.exit_code == 2 and result.output == "error: scan options: fdr must be in (0, 1), received 1.5\n"
    result = CliRunner().invoke(app, ["scan", "--interval", "1h"])
    assert result.exit_code == 1 and "fewer than two coins have 1h candles" in result.output


@pytest.mark.skipif(not HISTORY.is_file(), reason="../shared/data/hyperliquid is absent (the recorded 1h history)")
def test_the_shared_hourly_history_scans_end_to_end(cli_env: Path) -> None:
    invoke("data", "import", str(HISTORY))
    output = invoke("scan", "--from", "2024-12-01", "--to", "2025-03-01", "--min-volume", "1000")
    assert "18 coins, 2160 1h bars, 306 Engle-Granger tests" in output
    with connect(StorageSettings(dsn=f"chdb://{cli_env}/db")) as store:
        assert store.count("pair_stats") == store.query("SELECT count() FROM pair_stats_v")[0][0] > 153
        ranks = [row[0] for row in store.query("SELECT rank FROM pair_stats_v ORDER BY rank")]
    assert ranks == list(range(1, len(ranks) + 1)) and np.all(np.diff(ranks) == 1)
