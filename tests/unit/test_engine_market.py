"""Market-data queries (meta, ctx, mids, l2Book, bbo, candles, trades), events and persistence."""

from __future__ import annotations

import json
import pickle

import pytest
import structlog

from tests.helpers import FIXTURES
from tests.support.wire_engine import ASSETS, T0, funded_engine
from venue.engine import AssetSpec, Channel, EngineEvent, Limit, OrderRequest, Tif
from venue.engine.candles import bucket_start
from venue.server.wire import market

ALICE, BOB = "0x" + "a" * 40, "0x" + "b" * 40
BTC, ETH = 0, 1


def limit(asset, is_buy, px, sz, tif="Gtc"):
    return OrderRequest(asset, is_buy, px, sz, False, Limit(Tif(tif)))


def fixture(name):
    return json.loads((FIXTURES / "hyperliquid" / name).read_text())


@pytest.fixture()
def engine():
    return funded_engine({ALICE: "1000000", BOB: "1000000"},
                         (*ASSETS[:2], AssetSpec("HYPE", 2, 10, only_isolated=True)), eth_oracle=None)


def test_meta_shape_matches_recording(engine):
    meta = engine.meta()
    recorded = fixture("http/http_meta_mainnet_2026.json")["response"]
    assert set(meta) == set(recorded)
    assert meta["universe"][0] == {"szDecimals": 5, "name": "BTC", "maxLeverage": 40, "marginTableId": 40}
    assert meta["universe"][2]["onlyIsolated"] is True
    assert set(meta["marginTables"][0][1]) == set(recorded["marginTables"][0][1])


def test_spot_meta_supports_sdk_constructor():
    spot = market.spot_meta()
    tokens = {token["index"]: token for token in spot["tokens"]}
    for pair in spot["universe"]:
        assert all(index in tokens for index in pair["tokens"])
    assert spot["universe"][0]["name"] == "PURR/USDC" and tokens[0]["name"] == "USDC"


def test_ctx_and_mids(engine):
    engine.set_oracle("ETH", 2000.0)
    engine.place_orders(ALICE, [limit(ETH, True, "1999", "1"), limit(ETH, False, "2001", "1")])
    ctxs = engine.meta_and_asset_ctxs()
    recorded = fixture("ws/ws_mixed_mainnet_2026.json")["response"]
    ctx_frame = next(frame for frame in recorded if frame["channel"] == "activeAssetCtx")
    assert set(ctxs[1][ETH]) == set(ctx_frame["data"]["ctx"])
    assert len(ctxs[1]) == 3
    eth = ctxs[1][ETH]
    assert (eth["oraclePx"], eth["markPx"], eth["midPx"]) == ("2000.0", "2000.0", "2000.0")
    assert engine.all_mids() == {"ETH": "2000.0"}
    engine.set_oracle("BTC", 60000.0)
    assert engine.all_mids()["BTC"] == "60000.0"
    assert engine.active_asset_ctx("ETH") == {"coin": "ETH", "ctx": engine.meta_and_asset_ctxs()[1][ETH]}


def test_l2_book_levels_and_aggregation(engine):
    engine.set_oracle("BTC", 60000.0)
    engine.place_orders(ALICE, [limit(BTC, True, "60001", "0.001"), limit(BTC, True, "60002", "0.002"),
                                limit(BTC, True, "59985", "0.001"), limit(BTC, False, "60011", "0.001")])
    book = engine.l2_book("BTC")
    assert book == {"coin": "BTC", "time": T0, "levels": [
        [{"px": "60002.0", "sz": "0.002", "n": 1}, {"px": "60001.0", "sz": "0.001", "n": 1},
         {"px": "59985.0", "sz": "0.001", "n": 1}],
        [{"px": "60011.0", "sz": "0.001", "n": 1}]]}
    # 4 significant figures: bids round down to 60000 / 59980, asks up to 60020
    aggregated = engine.l2_book("BTC", n_sig_figs=4)["levels"]
    assert aggregated == [[{"px": "60000.0", "sz": "0.003", "n": 2}, {"px": "59980.0", "sz": "0.001", "n": 1}],
                          [{"px": "60020.0", "sz": "0.001", "n": 1}]]
    assert engine.bbo("BTC") == {"coin": "BTC", "time": T0, "bbo": [{"px": "60002.0", "sz": "0.002", "n": 1},
                                                                    {"px": "60011.0", "sz": "0.001", "n": 1}]}
    assert engine.bbo("ETH") == {"coin": "ETH", "time": T0, "bbo": [None, None]}


def test_l2_book_caps_at_twenty_levels(engine):
    engine.set_oracle("ETH", 2000.0)
    engine.place_orders(ALICE, [limit(ETH, True, str(1900 + i), "0.01") for i in range(30)])
    levels = engine.l2_book("ETH")["levels"][0]
    assert len(levels) == 20 and levels[0]["px"] == "1929.0"


def test_candles_from_trades(engine):
    engine.set_oracle("ETH", 2000.0)
    for offset, px in ((0, "2000"), (30_000, "2010"), (61_000, "1995")):
        engine.advance(T0 + offset)
        engine.place_orders(ALICE, [limit(ETH, False, px, "0.5")])
        engine.place_orders(BOB, [limit(ETH, True, px, "0.5", "Ioc")])
    minute = engine.candle_snapshot("ETH", "1m", T0, T0 + 120_000)
    assert minute == [
        {"t": T0, "T": T0 + 59_999, "s": "ETH", "i": "1m", "o": "2000.0", "c": "2010.0", "h": "2010.0",
         "l": "2000.0", "v": "1.0", "n": 2},
        {"t": T0 + 60_000, "T": T0 + 119_999, "s": "ETH", "i": "1m", "o": "1995.0", "c": "1995.0", "h": "1995.0",
         "l": "1995.0", "v": "0.5", "n": 1}]
    hour = engine.candle_snapshot("ETH", "1h", T0, T0 + 1)
    assert hour == [{"t": T0, "T": T0 + 3_599_999, "s": "ETH", "i": "1h", "o": "2000.0", "c": "1995.0",
                     "h": "2010.0", "l": "1995.0", "v": "1.5", "n": 3}]
    recorded = fixture("http/http_candleSnapshot_kPEPE_1h.json")["response"][0]
    assert set(hour[0]) == set(recorded)
    month = engine.candle_snapshot("ETH", "1M", bucket_start(T0, "1M"), T0)
    assert month[0]["n"] == 3 and month[0]["T"] - month[0]["t"] + 1 in {d * 86_400_000 for d in (28, 29, 30, 31)}
    ctx = engine.active_asset_ctx("ETH")["ctx"]
    # 0.5 x 2000 + 0.5 x 2010 + 0.5 x 1995 = 1000 + 1005 + 997.5
    assert (ctx["dayNtlVlm"], ctx["dayBaseVlm"], ctx["prevDayPx"]) == ("3002.5", "1.5", "2000.0")
    trades = engine.recent_trades("ETH")
    assert [t["px"] for t in trades] == ["2000.0", "2010.0", "1995.0"]
    assert trades[0]["users"] == [BOB, ALICE] and trades[0]["side"] == "B"


def test_events_for_a_trade(engine):
    events: list[EngineEvent] = []
    engine.set_oracle("ETH", 2000.0)
    engine.place_orders(ALICE, [limit(ETH, False, "2000", "0.5")])
    engine.add_listener(events.append)
    engine.place_orders(BOB, [limit(ETH, True, "2000", "0.5", "Ioc")])
    channels = {(event.channel, event.key) for event in events}
    assert {(Channel.TRADES, "ETH"), (Channel.FILLS, ALICE), (Channel.FILLS, BOB), (Channel.ORDER_UPDATES, ALICE),
            (Channel.ORDER_UPDATES, BOB), (Channel.BOOK, "ETH")} <= channels
    assert (Channel.CANDLE, "ETH") not in channels
    engine.advance(T0 + 1)
    assert {(Channel.CANDLE, "ETH"), (Channel.CTX, "ETH")} <= {(event.channel, event.key) for event in events}
    trade = next(event for event in events if event.channel is Channel.TRADES).data[0]
    recorded = next(f for f in fixture("ws/ws_mixed_mainnet_2026.json")["response"] if f["channel"] == "trades")
    assert list(trade) == list(recorded["data"][0])
    assert trade["users"] == [BOB, ALICE]
    fill = next(event for event in events if event.channel is Channel.FILLS and event.key == BOB).data[0]
    assert fill["dir"] == "Open Long" and fill["crossed"] is True
    update = next(event for event in events if event.channel is Channel.ORDER_UPDATES and event.key == ALICE).data[-1]
    assert update["status"] == "filled" and update["order"]["sz"] == "0.0" and update["order"]["origSz"] == "0.5"
    candle = next(event for event in events if event.channel is Channel.CANDLE and event.data["i"] == "1m").data
    assert candle["t"] == T0 and candle["n"] == 1


def test_candle_snapshot_returns_candles_opening_in_the_range(engine):
    engine.set_oracle("ETH", 2000.0)
    for offset in (0, 61_000, 125_000):
        engine.advance(T0 + offset)
        engine.place_orders(ALICE, [limit(ETH, False, "2000", "0.5")])
        engine.place_orders(BOB, [limit(ETH, True, "2000", "0.5", "Ioc")])
    opens = lambda start, end: [c["t"] for c in engine.candle_snapshot("ETH", "1m", start, end)]
    assert opens(T0 + 30_000, T0 + 130_000) == [T0 + 60_000, T0 + 120_000]
    assert opens(T0 + 60_000, T0 + 60_000) == [T0 + 60_000]
    assert opens(T0 + 60_001, T0 + 119_999) == []
    assert opens(T0, T0 + 59_999) == [T0]
    assert [c["t"] for c in engine.candle_snapshot("ETH", "1h", T0 + 1, T0 + 200_000)] == []
    assert [c["t"] for c in engine.candle_snapshot("ETH", "1m", T0 + 1)] == [T0 + 60_000, T0 + 120_000]


def test_pickle_round_trip_keeps_state_and_behaviour(engine):
    engine.set_oracle("ETH", 2000.0)
    engine.place_orders(ALICE, [limit(ETH, False, "2001", "1"), limit(ETH, True, "1999", "1")])
    engine.place_orders(BOB, [limit(ETH, True, "2001", "0.4", "Ioc")])
    engine.add_listener(lambda event: None)
    restored = pickle.loads(pickle.dumps(engine))
    assert restored.listeners == () and restored.lock is not engine.lock
    for query in ("clearinghouse_state", "open_orders", "user_fills", "historical_orders"):
        assert getattr(restored, query)(ALICE) == getattr(engine, query)(ALICE)
    assert restored.l2_book("ETH") == engine.l2_book("ETH")
    follow_up = [limit(ETH, False, "1999", "0.7", "Ioc")]
    assert restored.place_orders(BOB, follow_up) == engine.place_orders(BOB, follow_up)
    assert restored.user_fills(BOB) == engine.user_fills(BOB)


def test_candle_events_match_snapshots_across_minutes(engine):
    events: list[EngineEvent] = []
    engine.add_listener(events.append)
    engine.set_oracle("ETH", 2000.0)
    for step in range(12):
        now = T0 + step * 25_000
        engine.advance(now)
        px = str(1990 + (step * 7) % 20)
        engine.place_orders(ALICE, [limit(ETH, False, px, "0.1")])
        engine.place_orders(BOB, [limit(ETH, True, px, "0.1", "Ioc")])
        engine.advance(now + 1)
        pushed = {event.data["i"]: event.data for event in events if event.channel is Channel.CANDLE}
        for interval in ("1m", "5m", "1h", "1d", "1w", "1M"):
            assert pushed[interval] == engine.candle_snapshot("ETH", interval, bucket_start(now, interval), now)[-1]
        events.clear()


def test_failing_listener_does_not_break_the_engine(engine):
    received: list[EngineEvent] = []

    def broken(event):
        raise RuntimeError("listener bug")

    engine.add_listener(broken)
    engine.add_listener(received.append)
    engine.set_oracle("ETH", 2000.0)
    with structlog.testing.capture_logs() as logs:
        engine.place_orders(ALICE, [limit(ETH, False, "2000", "0.5")])
        status = engine.place_orders(BOB, [limit(ETH, True, "2000", "0.5", "Ioc")])
    assert "filled" in status[0]
    assert any(event.channel is Channel.FILLS for event in received)
    failures = [entry for entry in logs if entry["event"] == "engine listener failed"]
    assert failures and all(entry["log_level"] == "error" and entry["exc_info"] for entry in failures)
    assert len(failures) == len(received)  # one line per event the broken listener failed on


def test_removed_listener_hears_nothing_more(engine):
    kept: list[EngineEvent] = []
    removed: list[EngineEvent] = []
    engine.add_listener(kept.append)
    engine.add_listener(removed.append)
    engine.remove_listener(removed.append)
    engine.remove_listener(removed.append)
    engine.set_oracle("ETH", 2000.0)
    engine.place_orders(ALICE, [limit(ETH, False, "2000", "0.5")])
    engine.place_orders(BOB, [limit(ETH, True, "2000", "0.5", "Ioc")])
    assert any(event.channel is Channel.FILLS for event in kept)
    assert removed == []


def test_event_payloads_read_later_show_the_state_at_the_event(engine):
    eager: list[tuple] = []
    deferred: list[EngineEvent] = []
    engine.add_listener(lambda event: eager.append((event.channel, event.key, event.data)))
    engine.add_listener(deferred.append)
    engine.set_oracle("ETH", 2000.0)
    engine.place_orders(ALICE, [limit(ETH, False, "2000", "1.0")])
    engine.place_orders(BOB, [limit(ETH, True, "2000", "0.4", "Ioc")])
    engine.place_orders(BOB, [limit(ETH, True, "2001", "0.6", "Ioc")])
    engine.advance(T0 + 61_000)
    engine.place_orders(ALICE, [limit(ETH, True, "1990", "0.5")])
    engine.cancel(ALICE, [(ETH, engine.open_orders(ALICE)[0]["oid"])])
    assert [(event.channel, event.key, event.data) for event in deferred] == eager
    updates = [item for channel, key, data in eager if channel is Channel.ORDER_UPDATES and key == ALICE for item in data]
    assert [(u["status"], u["order"]["sz"]) for u in updates] == [
        ("open", "1.0"), ("filled", "0.0"), ("open", "0.5"), ("canceled", "0.5")]
