"""Loading a replay recording from the ClickHouse store (embedded chDB)."""

from __future__ import annotations

import pytest

from pairflow.config import StorageSettings, VenueSettings
from pairflow.events import Candle, Funding
from pairflow.storage import BatchWriter, Store
from tests.helpers import FIXTURES
from venue.market.recorded import HOUR_MS, load_csv, load_store
from venue.market.replay import ReplayMarket
from venue.service import VenueOptions, build_market
from venue.universe import default_universe

DATA = FIXTURES / "data"


def store_events(store: Store, table: str, rows: list[Candle] | list[Funding]) -> None:
    with BatchWriter(store, table, background=False) as writer:
        writer.add_many(rows)


def test_store_recording_equals_the_csv_it_was_loaded_from(store):
    expected = load_csv(DATA / "perp_1h_ohlcv_2024-10_sample.csv", DATA / "perp_funding_1h_2024-10_sample.csv")
    store_events(store, "candles", [
        Candle(ts=ts, recv_ts=ts, id=f"{coin}-1h-{ts}", coin=coin, interval="1h", close_ts=ts + HOUR_MS - 1,
               open=o, high=h, low=low, close=c, volume=1.0, trades=1)
        for coin, rows in expected.candles.items() for ts, o, h, low, c in rows
    ])
    store_events(store, "funding", [
        Funding(ts=ts, recv_ts=ts, id=f"{coin}-{ts}", coin=coin, rate=rate)
        for coin, rows in expected.funding.items() for ts, rate in rows
    ])
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
    store_events(store, "candles", [
        Candle(ts=0, id="a", coin="ETH", interval="1h", close_ts=3_599_999, open=2000.0, high=2020.0, low=1990.0,
               close=2010.0, volume=1.0, trades=1),
        Candle(ts=3_600_000, id="b", coin="ETH", interval="1h", close_ts=7_199_999, open=2010.0, high=2030.0,
               low=2000.0, close=2020.0, volume=1.0, trades=1),
    ])
    settings = StorageSettings(dsn=f"chdb://{tmp_path}/db", spill_dir=tmp_path / "spill")
    options = VenueOptions(VenueSettings(market="replay", replay_from="store", data_dir=None), storage=settings)
    market = build_market(options, default_universe(), start_ms=HOUR_MS * 1000)
    assert isinstance(market, ReplayMarket)
    assert market.universe.names == ["ETH"]
    assert market.targets(HOUR_MS * 1000, 0)["ETH"] == (2000.0, 0.0)
