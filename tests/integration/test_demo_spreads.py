"""What the demo trades: the spreads its scan at start accepts, else configured pairs, else the planted groups."""

from __future__ import annotations

import math
import random

from app.commands.demo import demo_spreads, scan_at_start
from pairflow.config import Settings
from pairflow.events import Candle
from pairflow.storage import BatchWriter, Store
from tests.strategy_support import cointegrated_bars


def demo_settings(**strategy: object) -> Settings:
    return Settings(collector={"coins": ["ETH", "SOL", "AVAX", "BTC", "DOGE"]}, strategy=strategy)


def store_candles(store: Store, rows: int = 400) -> None:
    """1m candles: ETH/SOL cointegrated, BTC and DOGE independent walks."""
    rng = random.Random(3)
    paths: dict[str, list[tuple[int, float]]] = {}
    for b in cointegrated_bars(("ETH", "SOL"), rows, seed=4, half_life_rows=5.0, spread_std=0.002):
        paths.setdefault(b.coin, []).append((b.ts, b.close))
    for coin, start in (("BTC", 60_000.0), ("DOGE", 0.1)):
        level = math.log(start)
        for ts, _ in paths["ETH"]:
            level += rng.gauss(0, 0.003)
            paths.setdefault(coin, []).append((ts, float(f"{math.exp(level):.5g}")))
    candles = [
        Candle(id=f"{coin}:1m:{ts}", coin=coin, ts=ts, recv_ts=ts, interval="1m", close_ts=ts + 59_999, open=px,
               high=px, low=px, close=px, volume=10.0, trades=5)
        for coin, path in paths.items() for ts, px in path
    ]
    with BatchWriter(store, "candles", background=False) as writer:
        writer.add_many(candles)


def test_a_fresh_demo_trades_the_planted_groups(store: Store) -> None:
    settings = demo_settings()
    assert scan_at_start(store, settings).startswith("scan: fewer than 50 1m candles")
    assert demo_spreads(settings, store) == [("ETH", "SOL"), ("ETH", "AVAX")]
    assert settings.strategy.bar_interval == "1s"  # demo scale for what the config left unset


def test_configured_pairs_come_before_the_planted_groups_and_keep_their_settings(store: Store) -> None:
    settings = demo_settings(pairs=["BTC/DOGE"], bar_interval="1m")
    assert demo_spreads(settings, store) == [("BTC", "DOGE")]
    assert settings.strategy.bar_interval == "1m"


def test_with_history_the_demo_trades_what_its_scan_accepts(store: Store) -> None:
    store_candles(store)
    settings = demo_settings(pairs=["BTC/DOGE"])
    found = scan_at_start(store, settings)
    assert found.startswith("scan ") and " accepted" in found
    spreads = demo_spreads(settings, store)
    assert spreads and all(set(legs) == {"ETH", "SOL"} for legs in spreads)
    stored = store.query("SELECT countIf(accepted), count() FROM pair_stats FINAL")[0]
    assert stored[0] >= 1 and stored[1] >= stored[0]
