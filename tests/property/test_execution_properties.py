"""Properties of execution's pure parts: rounding the venue accepts, netting, idempotent fills, PnL, VaR/ES."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import msgspec
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from operators.netting import NetTargets, SpreadTarget, size_spread
from operators.order_rules import MIN_NOTIONAL, AssetRules, round_price, round_size
from operators.orders import OrderTracker
from operators.pnl_ledger import FLATTEN, PnlLedger
from operators.portfolio_risk import PortfolioRisk, ewma_var_es, historical_var_es, parametric_var_es
from pairflow.events import Bar, Fill, Order, OrderIntent
from tests.helpers import SHARED
from venue.engine.rules import parse_decimal, price_on_tick, scale

prices = st.floats(min_value=1e-6, max_value=5e6, allow_nan=False, allow_infinity=False)
decimals = st.integers(min_value=0, max_value=5)


@settings(max_examples=400, deadline=None)
@given(prices, decimals, st.sampled_from(["nearest", "up", "down"]))
def test_rounded_prices_are_on_the_venue_grid_and_within_five_figures(px: float, sz_decimals: int, mode: str) -> None:
    rounded = round_price(px, sz_decimals, mode)
    scaled = scale(parse_decimal(repr(rounded).removesuffix(".0") if "e" not in repr(rounded)
                                 else format(Decimal(repr(rounded)), "f")), 6 - sz_decimals)
    assert scaled is not None and price_on_tick(scaled, 6 - sz_decimals)
    grid = max(10 ** (math.floor(math.log10(px)) - 4), 10.0 ** (sz_decimals - 6))
    assert abs(rounded - px) <= grid * (1 + 1e-9) + 1e-12
    if mode == "up":
        assert rounded >= px * (1 - 1e-12)
    if mode == "down" and rounded != grid:
        assert rounded <= px * (1 + 1e-12)


@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False), decimals)
def test_sizes_truncate_toward_zero_onto_the_lot(sz: float, sz_decimals: int) -> None:
    lot = 10.0 ** -sz_decimals
    rounded = round_size(sz, sz_decimals)
    assert 0 <= rounded <= abs(sz) and abs(sz) - rounded < lot * (1 + 1e-9)
    assert Decimal(repr(rounded)) % Decimal(1).scaleb(-sz_decimals) == 0


def test_every_asset_in_the_captured_meta_rounds_onto_its_grid() -> None:
    meta = json.loads((SHARED / "hyperliquid/fixtures/info_meta_2023.json").read_text())["response"]
    rules = AssetRules.from_meta(meta)
    for asset in meta["universe"]:
        for px in (0.000123456789, 0.98765432, 12.3456789, 4321.98765, 123456.789):
            text = format(Decimal(repr(rules.price(asset["name"], px))), "f")
            assert price_on_tick(scale(parse_decimal(text), 6 - asset["szDecimals"]), 6 - asset["szDecimals"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1e4), min_size=2, max_size=4),
       st.lists(st.floats(min_value=-50.0, max_value=50.0), min_size=2, max_size=4), decimals)
@example([10.0, 7.0], [2.4800107231862967, 4.0], 0)
@example([10.0, 10.0], [2.48, -4.96], 0)
def test_a_sized_spread_keeps_every_leg_above_the_minimum_and_its_ratio(pxs: list[float], sizes: list[float],
                                                                         sz_decimals: int) -> None:
    count = min(len(pxs), len(sizes))
    coins = tuple(f"C{i}" for i in range(count))
    rules = AssetRules({coin: sz_decimals for coin in coins})
    marks = dict(zip(coins, pxs, strict=False))
    wanted = tuple(sizes[:count])
    got, reason = size_spread(coins, wanted, marks, rules)
    if reason:
        assert got == () and reason.split(":")[0] in ("rounding", "min_notional")
        return
    if all(size == 0 for size in wanted):
        return
    lot = 10.0 ** -sz_decimals
    notionals = [abs(w) * marks[c] for c, w in zip(coins, wanted, strict=True)]
    factor = abs(got[notionals.index(min(notionals))] / wanted[notionals.index(min(notionals))])
    for coin, want, size in zip(coins, wanted, got, strict=True):
        assert abs(size) * marks[coin] >= MIN_NOTIONAL and size * want > 0
        assert abs(abs(want) * factor - abs(size)) < lot * (1 + 1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(), min_size=2, max_size=3), decimals)
def test_any_float_leg_size_is_sized_or_refused_with_a_reason_never_raised(sizes: list[float], sz_decimals: int) -> None:
    """A notional of 1e300 in the config, or a leg of inf coins, raised InvalidOperation in rounding and stopped the desk."""
    coins = tuple(f"C{i}" for i in range(len(sizes)))
    got, reason = size_spread(coins, tuple(sizes), dict.fromkeys(coins, 2.5), AssetRules(dict.fromkeys(coins, sz_decimals)))
    assert (got == ()) == bool(reason)
    if any(not abs(size) < 2**53 for size in sizes):
        assert reason.startswith("size: ") and "cannot be ordered" in reason


@given(st.lists(st.tuples(st.sampled_from(["P0", "P1", "P2"]),
                          st.lists(st.floats(min_value=-9, max_value=9, allow_nan=False), min_size=2, max_size=2)),
                min_size=1, max_size=30))
def test_net_target_is_the_sum_of_every_spreads_latest_legs(updates: list[tuple[str, list[float]]]) -> None:
    net, latest = NetTargets(), {}
    legs = {"P0": ("ETH", "BTC"), "P1": ("ETH", "SOL"), "P2": ("SOL", "BTC")}
    emitted: dict[str, float] = {}
    for i, (pair, sizes) in enumerate(updates):
        latest[pair] = dict(zip(legs[pair], sizes, strict=True))
        for target in net.update(SpreadTarget(pair, f"s{i}", i, legs[pair], tuple(sizes))):
            emitted[target.coin] = target.target
    for coin in ("ETH", "BTC", "SOL"):
        expected = sum(leg.get(coin, 0.0) for leg in latest.values())
        assert math.isclose(net.net(coin), expected, abs_tol=1e-8)
        assert math.isclose(emitted.get(coin, 0.0), expected, abs_tol=1e-8)


trades = st.lists(st.tuples(st.sampled_from("BA"), st.integers(1, 20), st.integers(900, 1100)), min_size=1,
                  max_size=25)


def _fills(rows: list[tuple[str, int, int]]) -> list[Fill]:
    return [Fill(ts=i, id=f"t{i}", coin="ETH", oid=1, cloid="c", px=float(px), sz=sz / 10, side=side,
                 fee=0.01 * sz, closed_pnl=0.0, crossed=True) for i, (side, sz, px) in enumerate(rows)]


@given(trades, st.randoms(use_true_random=False))
def test_duplicated_and_reordered_fills_give_the_same_filled_size(rows: list, rnd) -> None:
    fills = _fills(rows)
    total = sum(f.sz for f in fills)
    shuffled = fills + rnd.sample(fills, len(fills))
    rnd.shuffle(shuffled)
    tracker = OrderTracker()
    tracker.update(Order(ts=0, id="c", coin="ETH", cloid="c", oid=None, is_buy=True, sz=total, limit_px=1.0,
                         status="pending"))
    for f in shuffled:
        tracker.update(f)
    order = tracker.orders["c"]
    assert order.status == "filled" and math.isclose(order.filled_sz, total)


@given(trades, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=3))
def test_status_reports_and_fills_of_one_order_never_count_twice(rows: list, rnd, reports: int) -> None:
    """The demo's double count: a placement answer said "filled", then the same fills arrived (REST and WS)."""
    fills = _fills(rows)
    total = round(sum(f.sz for f in fills), 10)
    vwap = sum(f.px * f.sz for f in fills) / total
    base = dict(id="c", coin="ETH", cloid="c", is_buy=True, sz=total, limit_px=1.0)
    stamps = iter(range(1, 1000))
    events: list[Order | Fill] = [*fills, *rnd.sample(fills, len(fills))]
    for _ in range(reports):
        seen = round(rnd.uniform(0, total), 10)
        events.append(Order(ts=0, recv_ts=0, oid=1, status="partial", filled_sz=seen, avg_px=None, **base))
    events.append(Order(ts=0, recv_ts=0, oid=1, status="filled", filled_sz=total, avg_px=round(vwap, 6), **base))
    rnd.shuffle(events)
    tracker = OrderTracker()
    tracker.update(Order(ts=0, recv_ts=0, oid=None, status="pending", **base))
    last = 0
    for event in events:
        if isinstance(event, Order):
            event = msgspec.structs.replace(event, recv_ts=next(stamps))
        for moved in tracker.update(event):
            assert moved.filled_sz <= total + 1e-9 and moved.recv_ts > last
            last = moved.recv_ts
    order = tracker.orders["c"]
    assert order.status == "filled" and math.isclose(order.filled_sz, total)
    assert math.isclose(order.avg_px, vwap, rel_tol=1e-6)


@given(trades)
def test_a_round_trip_realises_the_cash_it_moved_and_replays_change_nothing(rows: list) -> None:
    fills = _fills(rows)
    held = sum(f.sz if f.side == "B" else -f.sz for f in fills)
    if round(held, 9):
        fills.append(Fill(ts=99, id="close", coin="ETH", oid=2, cloid="c", px=1000.0, sz=round(abs(held), 9),
                          side="A" if held > 0 else "B", fee=0.0, closed_pnl=0.0, crossed=True))
    ledger = PnlLedger()
    for f in fills + fills:
        ledger.update(f)
    cash = -sum((f.sz if f.side == "B" else -f.sz) * f.px for f in fills)
    book = ledger.coins["ETH"]
    assert book.szi == 0 and math.isclose(book.realized, cash, abs_tol=1e-6)
    assert math.isclose(book.fees, sum(f.fee for f in fills), abs_tol=1e-9)


def test_var_and_es_match_the_closed_form_on_normal_returns() -> None:
    sample = np.random.default_rng(7).normal(0.5, 2.0, 200_000)
    for confidence in (0.95, 0.99):
        z = {0.95: 1.6448536269514722, 0.99: 2.3263478740408408}[confidence]
        pdf = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        var, es = parametric_var_es(0.5, 2.0, confidence, horizon=4)
        assert math.isclose(var, 2.0 * 2 * z - 0.5 * 4, rel_tol=1e-9)
        assert math.isclose(es, 2.0 * 2 * pdf / (1 - confidence) - 0.5 * 4, rel_tol=1e-9)
        hist_var, hist_es = historical_var_es(sample.tolist(), confidence)
        assert math.isclose(hist_var, 2.0 * z - 0.5, rel_tol=0.02)
        assert math.isclose(hist_es, 2.0 * pdf / (1 - confidence) - 0.5, rel_tol=0.02)
        ewma_var, _ = ewma_var_es((sample - 0.5).tolist(), confidence)
        assert 0.5 * 2.0 * z < ewma_var < 2.0 * 2.0 * z


def test_historical_var_is_the_empirical_quantile_of_a_captured_history() -> None:
    candles = json.loads((SHARED / "hyperliquid/fixtures/info_candleSnapshot_kPEPE_1h_2023.json").read_text())
    closes = np.array([float(c["c"]) for c in candles["response"]])
    pnl = 1000.0 * (closes[1:] / closes[:-1] - 1.0)
    for confidence in (0.9, 0.95):
        var, es = historical_var_es(pnl.tolist(), confidence)
        tail = math.ceil(len(pnl) * (1 - confidence) - 1e-9)
        worst = np.sort(pnl)[:tail]
        assert var == -worst[-1] and math.isclose(es, -worst.mean())
        assert np.mean(pnl < -var) <= 1 - confidence <= np.mean(pnl <= -var)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 40_000), st.sampled_from([None, 0.0, 1.0, -2.0])), max_size=60),
       at_change=st.booleans())
def test_risk_rows_keep_their_schedule_except_right_after_a_change_of_what_is_held(
    steps: list[tuple[int, float | None]], at_change: bool
) -> None:
    """Rows come every_ms apart; with at_change, also at the first new bar time after the size held changed."""
    risk = PortfolioRisk(window=50, interval_label="1s", every_ms=60_000, at_change=at_change)
    ts, held, changed, last_row = 0, 0.0, False, None
    for gap, size in steps:
        if size is not None:
            risk.hold({"ETH": size})
            changed = changed or size != held
            held = size
        ts += gap
        rows = risk.update(Bar(ts=ts, id=str(ts), coin="ETH", interval="1s", open=100.0, high=100.0, low=100.0,
                               close=100.0 + ts % 7, volume=1.0, notional=100.0, vwap=100.0, trades=1,
                               buy_volume=0.5, sell_volume=0.5))
        due = last_row is None or ts >= last_row + 60_000 or (at_change and changed)
        assert bool(rows) == due, (ts, last_row, changed)
        if rows:
            last_row, changed = ts, False
            assert {row.ts for row in rows} == {ts}


legs = st.lists(st.tuples(st.sampled_from(["P0", "P1", "P2"]), st.sampled_from(["ETH", "SOL"]), st.sampled_from("BA"),
                          st.integers(1, 20), st.integers(900, 1100)), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(legs, st.sets(st.sampled_from(["ETH", "SOL"])),
       st.lists(st.tuples(st.integers(1, 5), st.integers(900, 1100)), min_size=1, max_size=4),
       st.integers(900, 1100))
def test_a_flatten_closes_every_spreads_leg_and_the_spreads_realise_what_the_coin_did(
    entries: list[tuple[str, str, str, int, int]], offset: set[str], parts: list[tuple[int, int]], mark: int
) -> None:
    """Spreads enter coins both ways (in the ``offset`` coins P2 then nets their position to nothing), then a
    flatten as the desk runs it: the legs of a coin held net of nothing are crossed at its mark, and the
    flatten's order closes each coin held in partial fills at any prices. Every leg ends flat, and per coin
    the spreads realise what the coin did and pay what it paid in fees."""
    ledger = PnlLedger()
    for pair in ("P0", "P1", "P2"):
        for coin in ("ETH", "SOL"):
            ledger.update(OrderIntent(ts=0, id=f"{pair}{coin}", coin=coin, pair=pair, is_buy=True, sz=1.0, limit_px=1.0))
    fills = [Fill(ts=i, id=f"t{i}", coin=coin, oid=1, cloid=f"{pair}{coin}", px=float(px), sz=sz / 10, side=side,
                  fee=0.01 * sz, closed_pnl=0.0, crossed=True) for i, (pair, coin, side, sz, px) in enumerate(entries)]
    held = {coin: round(sum(f.sz if f.side == "B" else -f.sz for f in fills if f.coin == coin), 9)
            for coin in ("ETH", "SOL")}
    for coin in sorted(offset):
        if held[coin]:
            fills.append(Fill(ts=50, id=f"o{coin}", coin=coin, oid=1, cloid=f"P2{coin}", px=1000.0, sz=abs(held[coin]),
                              side="A" if held[coin] > 0 else "B", fee=0.0, closed_pnl=0.0, crossed=True))
            held[coin] = 0.0
    for fill in fills:
        ledger.update(fill)
    cross = ledger.crossing(99, {"ETH": float(mark), "SOL": float(mark)}, "cross:flatten@99")
    crossed = [] if cross is None else ledger.cross(cross)
    assert {p.scope for p in crossed} == {f"spread:{pair}" for pair in (cross.legs if cross else ())}
    weights = [weight for weight, _ in parts]
    for coin, net in held.items():
        if not net:
            continue
        ledger.update(OrderIntent(ts=99, id=f"flat{coin}", coin=coin, pair=FLATTEN, is_buy=net < 0, sz=abs(net),
                                  limit_px=1.0))
        left = abs(net)
        for number, (weight, px) in enumerate(parts):
            sz = left if number == len(parts) - 1 else round(abs(net) * weight / sum(weights), 9)
            left = round(left - sz, 9)
            if sz > 0:
                fills.append(Fill(ts=100 + number, id=f"f{coin}{number}", coin=coin, oid=2, cloid=f"flat{coin}",
                                  px=float(px), sz=sz, side="A" if net > 0 else "B", fee=0.001 * px, closed_pnl=0.0,
                                  crossed=True))
    for fill in fills:  # the entries again and the flatten's fills: a replayed fill changes nothing
        ledger.update(fill)
    assert cross is None or ledger.cross(cross) == []  # nor does a replayed cross (a restart's, from the journal)
    for coin, book in ledger.coins.items():
        spreads = [legs[coin] for legs in ledger.spreads.values() if coin in legs]
        assert book.szi == 0 and [leg.szi for leg in spreads] == [0.0] * len(spreads), coin
        assert math.isclose(sum(leg.realized for leg in spreads), book.realized, abs_tol=1e-6), coin
        assert math.isclose(sum(leg.fees for leg in spreads), book.fees, abs_tol=1e-9), coin
