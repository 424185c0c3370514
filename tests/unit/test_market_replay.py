"""The replay driver on a real engine, fed with real recorded candles and funding."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairflow.clock import ManualClock
from tests.support.wire_engine import WireEngine
from venue.driver_loop import DriverLoop
from venue.engine import Engine
from venue.market.participants import TakerConfig
from venue.market.recorded import HOUR_MS, load_directory
from venue.market.replay import ReplayMarket, replay_universe
from venue.universe import default_universe

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
START = 1_790_000_123_456  # venue start, mid-hour
START_HOUR = START - START % HOUR_MS


def replay(hours: float, taker_rate: float, step_ms: int = 2_000):
    data = load_directory(DATA)
    market = ReplayMarket.build(
        default_universe(), data, start_ms=START, seed=2, takers=TakerConfig(rate_per_minute=taker_rate)
    )
    engine = Engine(market.universe.specs, now_ms=START_HOUR)
    market.attach(engine)
    clock = ManualClock(START_HOUR)
    loop = DriverLoop(engine, clock, market, step_ms=step_ms)
    while engine.now_ms < START_HOUR + hours * HOUR_MS:
        clock.advance(step_ms)
        loop.run_due()
    assert loop.errors == 0
    return market, engine, data


def test_replay_universe_keeps_recorded_coins_in_universe_order():
    data = load_directory(DATA)
    assert replay_universe(default_universe(), data).names == ["BTC", "ETH", "SOL"]
    with pytest.raises(ValueError, match="no coin of the venue universe"):
        replay_universe(default_universe().subset(["DOGE"]), data)


def test_recording_is_shifted_by_whole_hours_to_the_start_hour():
    market = ReplayMarket.build(default_universe(), load_directory(DATA), start_ms=START)
    assert market.offset_ms % HOUR_MS == 0
    assert market.recorded_ms(START_HOUR) == market.data.start_ms
    assert market.finished_at_ms == START_HOUR + 48 * HOUR_MS


def test_replayed_oracle_trades_and_candles_follow_the_recording():
    market, engine, data = replay(hours=2, taker_rate=30.0)
    for coin in ("BTC", "ETH", "SOL"):
        candles = WireEngine(engine).candle_snapshot(coin, "1h", START_HOUR, START_HOUR + 2 * HOUR_MS)
        assert len(candles) >= 2
        for candle, recorded in zip(candles[:2], data.candles[coin][:2]):
            _, open_, high, low, close = recorded
            assert candle["t"] == START_HOUR + (recorded[0] - data.start_ms)
            assert float(candle["h"]) <= high * 1.003 and float(candle["l"]) >= low * 0.997
            assert float(candle["c"]) == pytest.approx(close, rel=0.003)
        ctx = WireEngine(engine).active_asset_ctx(coin)
        ctx = ctx.get("ctx", ctx)
        assert float(ctx["oraclePx"]) == pytest.approx(data.price_at(coin, market.recorded_ms(engine.now_ms)), rel=1e-4)
    assert market.takers.sent > 100


@pytest.mark.parametrize(("taker_rate", "step_ms"), [(0.0, 5_000), (30.0, 2_000)])
def test_replayed_funding_tracks_the_recorded_rates(taker_rate, step_ms):
    market, engine, data = replay(hours=3, taker_rate=taker_rate, step_ms=step_ms)
    for coin in ("BTC", "ETH", "SOL"):
        rows = WireEngine(engine).funding_history(coin, START_HOUR)
        assert len(rows) == 3
        for row in rows:
            recorded = data.funding_rate_for_hour(coin, market.recorded_ms(row["time"] - 1))
            assert float(row["fundingRate"]) == pytest.approx(recorded, rel=0.06), (coin, row, recorded)
