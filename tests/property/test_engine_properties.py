"""Hypothesis properties of the engine: uncrossed book, conservation, priority, pickle determinism."""

from __future__ import annotations

import pickle
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.wire_engine import WireEngine
from venue.engine import AssetSpec, Engine, Limit, OrderRequest, Tif

T0 = 1_789_999_200_000
USERS = [f"0x{index:040x}" for index in range(1, 5)]
DEPOSIT = 1_000_000
ETH = 1

order_strategy = st.tuples(
    st.sampled_from(USERS),
    st.booleans(),
    st.integers(min_value=1980, max_value=2020),
    st.integers(min_value=50, max_value=3000),  # size in 1e-4 ETH (>= $10 at these prices)
    st.sampled_from(["Gtc", "Gtc", "Ioc", "Alo"]),
    st.booleans(),
)
actions_strategy = st.lists(order_strategy, min_size=1, max_size=60)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh() -> Engine:
    engine = WireEngine(Engine([AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25)], now_ms=T0))
    for user in USERS:
        engine.fund(user, str(DEPOSIT))
    engine.set_oracle("ETH", 2000.0)
    return engine


def request(is_buy, px, size, tif, reduce_only) -> OrderRequest:
    return OrderRequest(ETH, is_buy, str(px), f"{Decimal(size).scaleb(-4)}", reduce_only, Limit(Tif(tif)))


def apply(engine: Engine, action) -> list:
    user, is_buy, px, size, tif, reduce_only = action
    return engine.place_orders(user, [request(is_buy, px, size, tif, reduce_only)])


@SETTINGS
@given(actions_strategy)
def test_book_is_never_crossed(actions):
    engine = fresh()
    for action in actions:
        apply(engine, action)
        bids, asks = engine.l2_book("ETH")["levels"]
        if bids and asks:
            assert Decimal(bids[0]["px"]) < Decimal(asks[0]["px"])
        assert all(Decimal(a["px"]) > Decimal(b["px"]) for a, b in zip(bids, bids[1:]))
        assert all(Decimal(a["px"]) < Decimal(b["px"]) for a, b in zip(asks, asks[1:]))


@SETTINGS
@given(actions_strategy, st.integers(min_value=1500, max_value=2500), st.lists(st.booleans(), min_size=4, max_size=4))
def test_value_is_conserved_net_of_fees(actions, oracle, isolated):
    engine = fresh()
    for user, is_isolated in zip(USERS, isolated):
        engine.update_leverage(user, ETH, not is_isolated, 10)
    for action in actions:
        apply(engine, action)
    engine.set_oracle("ETH", float(oracle))
    value = sum(Decimal(engine.clearinghouse_state(u)["marginSummary"]["accountValue"]) for u in USERS)
    fees = sum(Decimal(fill["fee"]) for u in USERS for fill in engine.user_fills(u))
    positions = sum(Decimal(p["position"]["szi"]) for u in USERS
                    for p in engine.clearinghouse_state(u)["assetPositions"])
    assert positions == 0
    assert value + fees == DEPOSIT * len(USERS)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(USERS[1:]), st.integers(min_value=2001, max_value=2010),
                          st.integers(min_value=50, max_value=500)), min_size=1, max_size=25))
def test_price_time_priority(resting):
    engine = fresh()
    placed = []
    for sequence, (user, px, size) in enumerate(resting):
        oid = apply(engine, (user, False, px, size, "Gtc", False))[0]["resting"]["oid"]
        placed.append((px, sequence, oid))
    apply(engine, (USERS[0], True, 2010, 10**6, "Ioc", False))
    maker_fills = sorted((fill["tid"], fill["oid"]) for user in USERS[1:] for fill in engine.user_fills(user))
    expected = [oid for _, _, oid in sorted(placed)]
    assert [oid for _, oid in maker_fills] == expected


@SETTINGS
@given(actions_strategy, st.data())
def test_pickle_round_trip_is_deterministic(actions, data):
    split = data.draw(st.integers(min_value=0, max_value=len(actions)))
    engine = fresh()
    for action in actions[:split]:
        apply(engine, action)
    restored = pickle.loads(pickle.dumps(engine))
    for action in actions[split:]:
        assert apply(restored, action) == apply(engine, action)
    for user in USERS:
        assert restored.user_fills(user) == engine.user_fills(user)
        assert restored.clearinghouse_state(user) == engine.clearinghouse_state(user)
        assert restored.historical_orders(user) == engine.historical_orders(user)
    assert restored.l2_book("ETH") == engine.l2_book("ETH")


@SETTINGS
@given(st.lists(st.one_of(order_strategy, st.integers(min_value=1200, max_value=2800)), min_size=1, max_size=60))
def test_liquidations_and_oracle_moves_keep_invariants(steps):
    engine = WireEngine(Engine([AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25)], now_ms=T0))
    deposits = 0
    for index, user in enumerate(USERS):
        amount = 100 if index % 2 else 50_000
        engine.fund(user, str(amount))
        deposits += amount
    engine.set_oracle("ETH", 2000.0)
    now = T0
    for step in steps:
        if isinstance(step, int):
            now += 1_000
            engine.set_oracle("ETH", float(step))
            engine.advance(now)
        else:
            user, is_buy, _, size, tif, reduce_only = step
            mark = engine.meta_and_asset_ctxs()[1][ETH]["markPx"]
            px = int(Decimal(mark)) + (10 if is_buy else -10)
            apply(engine, (user, is_buy, px, size, tif, reduce_only))
        bids, asks = engine.l2_book("ETH")["levels"]
        if bids and asks:
            assert Decimal(bids[0]["px"]) < Decimal(asks[0]["px"])
    users = [*USERS, "0x" + "ff" * 20]
    value = sum(Decimal(engine.clearinghouse_state(u)["marginSummary"]["accountValue"]) for u in users)
    fees = sum(Decimal(fill["fee"]) for u in users for fill in engine.user_fills(u))
    assert value + fees == deposits
