"""Loading a replay recording from the ClickHouse store (embedded chDB)."""

from __future__ import annotations

import pytest

from pairflow.config import StorageSettings, VenueSettings
from pairflow.storage import connect
from tests.helpers import FIXTURES
from venue.market.recorded import HOUR_MS, load_csv, load_store
from venue.market.replay import ReplayMarket
from venue.service import VenueOptions, build_market
from venue.universe import default_universe

DATA = FIXTURES / "data"


@pytest.fixture
def store(tmp_path):
    settings = StorageSettings(dsn=f"chdb://{tmp_path / 'chdb'}", spill_dir=tmp_path / "spill")
    with connect(settings) as opened:
        opened.init_schema()
        yield opened


def test_store_recording_equals_the_csv_it_was_loaded_from(store):
    expected = load_csv(DATA / "perp_1h_ohlcv_2024-10_sample.csv", DATA / "perp_funding_1h_2024-10_sample.csv")
    candle_rows = [(coin, *row) for coin, rows in expected.candles.items() for row in rows]
    store.insert_columns(
        "candles",
        [
            [row[1] for row in candle_rows],
            [row[1] for row in candle_rows],
            [f"{row[0]}-1h-{row[1]}" for row in candle_rows],
            [row[0] for row in candle_rows],
            ["1h"] * len(candle_rows),
            [row[1] + HOUR_MS - 1 for row in candle_rows],
            *[[row[index] for row in candle_rows] for index in (2, 3, 4, 5)],
            [1.0] * len(candle_rows),
            [1] * len(candle_rows),
        ],
        ["ts", "recv_ts", "id", "coin", "interval", "close_ts", "open", "high", "low", "close", "volume", "trades"],
    )
    funding_rows = [(coin, *row) for coin, rows in expected.funding.items() for row in rows]
    store.insert_columns(
        "funding",
        [
            [row[1] for row in funding_rows],
            [row[1] for row in funding_rows],
            [f"{row[0]}-{row[1]}" for row in funding_rows],
            [row[0] for row in funding_rows],
            [row[2] for row in funding_rows],
        ],
        ["ts", "recv_ts", "id", "coin", "rate"],
    )
    loaded = load_store(store)
    assert loaded.candles == expected.candles
    assert loaded.funding == expected.funding
    only_eth = load_store(store, coins=["ETH"], start_ms=expected.start_ms + HOUR_MS)
    assert only_eth.coins == ["ETH"]
    assert only_eth.candles["ETH"] == expected.candles["ETH"][1:]


def test_empty_store_is_a_clear_error(store):
    with pytest.raises(ValueError, match="holds no usable 1h candle"):
        load_store(store)


def test_replay_market_can_be_built_from_the_store(store, tmp_path):
    store.insert_columns(
        "candles",
        [[0, 3_600_000], [0, 0], ["a", "b"], ["ETH", "ETH"], ["1h", "1h"], [3_599_999, 7_199_999],
         [2000.0, 2010.0], [2020.0, 2030.0], [1990.0, 2000.0], [2010.0, 2020.0], [1.0, 1.0], [1, 1]],
        ["ts", "recv_ts", "id", "coin", "interval", "close_ts", "open", "high", "low", "close", "volume", "trades"],
    )
    settings = StorageSettings(dsn=f"chdb://{tmp_path / 'chdb'}", spill_dir=tmp_path / "spill")
    options = VenueOptions(VenueSettings(market="replay", replay_from="store", data_dir=None), storage=settings)
    market = build_market(options, default_universe(), start_ms=HOUR_MS * 1000)
    assert isinstance(market, ReplayMarket)
    assert market.universe.names == ["ETH"]
    assert market.targets(HOUR_MS * 1000, 0)["ETH"] == (2000.0, 0.0)
