"""``pairflow data import`` end to end: files into chDB, idempotently; a bad file is one red line and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli import app
from pairflow.config import StorageSettings
from pairflow.storage import connect
from tests.helpers import SHARED
from tests.property.test_history_files_fuzz import cells, headers

HISTORY = SHARED / "data" / "hyperliquid"


def stored(tmp_path: Path) -> tuple[list[tuple], list[tuple]]:
    with connect(StorageSettings(dsn=f"chdb://{tmp_path}/db")) as store:
        store.init_schema()
        candles = store.query("SELECT coin, interval, ts, close, volume FROM candles FINAL ORDER BY coin, ts")
        funding = store.query("SELECT coin, ts, rate FROM funding FINAL ORDER BY coin, ts")
    return candles, funding


def test_import_long_wide_and_funding_files_twice_stores_each_row_once(cli_env: Path) -> None:
    long = cli_env / "long.csv"
    long.write_text("timestamp,coin,open,high,low,close,volume\n"
                    "2024-01-01T00:00:00Z,BTC,10,11,9,10.5,3\n2024-01-01T00:05:00Z,BTC,10.5,12,10,11,4\n")
    wide = cli_env / "wide.csv"
    wide.write_text("date,ETH,SOL\n20240101,2300,100\n20240102,2400,\n")
    funding = cli_env / "funding.csv"
    funding.write_text("timestamp,coin,funding_rate\n2024-01-01T00:00:00.050Z,BTC,1e-5\n")
    for _ in range(2):
        result = CliRunner().invoke(app, ["data", "import", str(long), str(wide), str(funding)])
        assert result.exit_code == 0, result.output
    assert "2 rows of long candles 5m for 1 coins (BTC)" in result.output
    assert "3 rows of wide candles 1d for 2 coins (ETH, SOL)" in result.output
    candles, rates = stored(cli_env)
    assert candles == [
        ("BTC", "5m", 1_704_067_200_000, 10.5, 3.0), ("BTC", "5m", 1_704_067_500_000, 11.0, 4.0),
        ("ETH", "1d", 1_704_067_200_000, 2300.0, 0.0), ("ETH", "1d", 1_704_153_600_000, 2400.0, 0.0),
        ("SOL", "1d", 1_704_067_200_000, 100.0, 0.0),
    ]
    assert rates == [("BTC", 1_704_067_200_050, 1e-5)]


def test_a_bad_file_stops_the_import_before_anything_is_written(cli_env: Path) -> None:
    good = cli_env / "good.csv"
    good.write_text("date,ETH\n20240101,2300\n20240102,2400\n")
    bad = cli_env / "bad.csv"
    bad.write_text("date,ETH\n20240101,2300\n20240102,0\n")
    result = CliRunner().invoke(app, ["data", "import", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}:3: ETH '0' is not a positive price\n" in result.output
    assert stored(cli_env) == ([], [])


@pytest.mark.skipif(not HISTORY.is_dir(), reason="../shared/data/hyperliquid is absent (the recorded 1h history)")
def test_the_shared_hourly_history_imports(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["data", "import", str(HISTORY / "perp_1h_ohlcv_2024-09_2025-02.csv")])
    assert result.exit_code == 0, result.output
    with connect(StorageSettings(dsn=f"chdb://{cli_env}/db")) as store:
        assert store.count("candles", "interval = '1h'") == 76_548
        assert store.query("SELECT count(DISTINCT coin) FROM candles")[0][0] == 18


def test_a_fuzzed_file_beside_a_good_one_is_imported_with_it_or_nothing_is_stored(cli_env: Path) -> None:
    """The import boundary end to end: any text is read, or refused in one line naming it before the store is
    even opened, so nothing of the good file beside it is stored either."""
    good = cli_env / "good.csv"
    good.write_text("date,ETH\n20240101,2300\n20240102,2400\n")
    fuzzed = cli_env / "fuzzed.csv"
    examples = iter(range(1_000))

    @settings(max_examples=25, deadline=None)
    @given(header=headers, rows=st.lists(st.lists(cells, max_size=8).map(",".join), max_size=6))
    def check(header: str, rows: list[str]) -> None:
        fuzzed.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        store = cli_env / f"db-{next(examples)}"
        result = CliRunner().invoke(app, ["data", "import", str(good), str(fuzzed)],
                                    env={"PAIRFLOW_STORAGE__DSN": f"chdb://{store}"})
        if result.exit_code != 0:
            assert result.exit_code == 2 and result.output.startswith(f"error: {fuzzed}"), result.output
            assert result.output.count("\n") == 1 and not store.exists()

    check()
