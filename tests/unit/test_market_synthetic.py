"""The synthetic market on a real engine: books, trades, determinism, persistence of the driver."""

from __future__ import annotations

import pickle
import statistics

import pytest

from pairflow.clock import ManualClock
from tests.support.wire_engine import WireEngine
from venue.driver_loop import DriverLoop
from venue.engine import Channel, Engine
from venue.market.factor_model import CointegrationGroup
from venue.market.participants import TakerConfig
from venue.market.synthetic import SyntheticMarket, default_groups
from venue.universe import default_universe

T0 = 1_790_000_000_000
COINS = ["BTC", "ETH", "SOL", "AVAX", "DOGE"]


def run_market(seed: int, minutes: float, *, market: SyntheticMarket | None = None, engine: Engine | None = None):
    universe = default_universe().subset(COINS)
    market = market or SyntheticMarket.build(universe, seed=seed, takers=TakerConfig(rate_per_minute=20.0))
    engine = engine or Engine(universe.specs, now_ms=T0)
    trades: list[tuple] = []
    engine.add_listener(
        lambda event: trades.extend(
            (t.coin, "B" if t.is_buy else "A", str(t.px), str(t.sz), t.time_ms) for t in event.data
        )
        if event.channel is Channel.TRADES
        else None
    )
    market.attach(engine)
    clock = ManualClock(engine.now_ms)
    loop = DriverLoop(engine, clock, market, step_ms=250)
    for _ in range(int(minutes * 240)):
        clock.advance(250)
        loop.run_due()
    assert loop.errors == 0
    return market, engine, trades


def test_same_seed_prints_the_same_trades_and_another_seed_does_not():
    _, first_engine, first = run_market(seed=5, minutes=3)
    _, second_engine, second = run_market(seed=5, minutes=3)
    _, _, other = run_market(seed=6, minutes=3)
    assert len(first) > 100
    assert first == second
    assert first != other
    assert WireEngine(first_engine).l2_book("ETH") == WireEngine(second_engine).l2_book("ETH")


def test_books_are_multi_level_around_fair_value_and_trades_print_at_the_configured_rate():
    market, engine, trades = run_market(seed=3, minutes=5)
    for coin in COINS:
        bids, asks = WireEngine(engine).l2_book(coin)["levels"]
        assert len(bids) >= 5 and len(asks) >= 5
        best_bid, best_ask = float(bids[0]["px"]), float(asks[0]["px"])
        fair = market.last_fair[coin]
        assert best_bid < best_ask
        assert abs((best_bid + best_ask) / 2 / fair - 1) < 0.002
        for level in bids + asks:
            assert float(level["px"]) * float(level["sz"]) >= 10.0
    per_coin = [sum(1 for trade in trades if trade[0] == coin) for coin in COINS]
    # 20 taker orders per coin-minute over 5 minutes; one order may print several fills.
    assert all(60 <= count <= 300 for count in per_coin), per_coin
    assert market.takers.unfilled <= market.takers.sent * 0.05
    assert market.maker.rejected == 0


def test_participants_track_their_inventory_like_the_engine_does():
    market, engine, _ = run_market(seed=8, minutes=3)
    for participant in (market.maker, market.takers):
        state = WireEngine(engine).clearinghouse_state(participant.address)
        positions = {p["position"]["coin"]: float(p["position"]["szi"]) for p in state["assetPositions"]}
        tracked = {coin: size for coin, size in participant.inventory.items() if abs(size) > 1e-9}
        assert tracked.keys() == positions.keys()
        for coin, size in positions.items():
            assert tracked[coin] == pytest.approx(size, abs=1e-6)


def test_oracle_and_mark_follow_the_factor_model():
    market, engine, _ = run_market(seed=9, minutes=2)
    contexts = {coin: WireEngine(engine).active_asset_ctx(coin) for coin in COINS}
    for coin in COINS:
        ctx = contexts[coin]
        ctx = ctx.get("ctx", ctx)
        fair = market.last_fair[coin]
        assert float(ctx["oraclePx"]) == pytest.approx(fair, rel=2e-4)
        assert float(ctx["markPx"]) == pytest.approx(fair, rel=2e-3)


def test_market_resumes_identically_after_a_pickled_snapshot():
    market, engine, _ = run_market(seed=4, minutes=1)
    market_copy = pickle.loads(pickle.dumps(market))
    engine_copy = pickle.loads(pickle.dumps(engine))
    _, _, continued = run_market(seed=4, minutes=1, market=market, engine=engine)
    _, _, restored = run_market(seed=4, minutes=1, market=market_copy, engine=engine_copy)
    assert continued and continued == restored


@pytest.mark.parametrize(("taker_rate", "tolerance"), [(0.0, 0.02), (20.0, 0.03)])
def test_premium_target_sets_the_hourly_funding_rate(taker_rate, tolerance):
    universe = default_universe().subset(["SOL"])
    groups: tuple[CointegrationGroup, ...] = ()
    rates = {}
    for sign in (+1, -1):
        market = SyntheticMarket.build(
            universe,
            seed=1,
            groups=groups,
            premium_std=0.0,
            premium_half_life_s=1e12,
            takers=TakerConfig(rate_per_minute=taker_rate),
        )
        market.model.premia["SOL"] = sign * 0.002
        engine = Engine(universe.specs, now_ms=T0 - T0 % 3_600_000)
        market.attach(engine)
        clock = ManualClock(engine.now_ms)
        loop = DriverLoop(engine, clock, market, step_ms=5_000)
        while engine.now_ms < T0 - T0 % 3_600_000 + 3_600_000:
            clock.advance(5_000)
            loop.run_due()
        (row,) = WireEngine(engine).funding_history("SOL", 0)
        rates[sign] = float(row["fundingRate"])
    # premium ±0.2% per 8h -> hourly (0.002 - 0.0005) / 8 and (-0.002 + 0.0005) / 8
    assert rates[+1] == pytest.approx(0.0015 / 8, rel=tolerance)
    assert rates[-1] == pytest.approx(-0.0015 / 8, rel=tolerance)


def test_default_groups_use_coins_of_the_universe():
    groups = default_groups(default_universe())
    assert [group.coins for group in groups] == [("ETH", "SOL", "AVAX"), ("AAVE", "UNI", "LINK")]
    assert default_groups(default_universe().subset(["ETH", "BTC"])) == ()
    assert statistics.mean(groups[0].betas) > 1.0
