"""The engine's typed API as an in-process caller (the backtest's executor) sees it: no wire shapes."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from venue.engine import (
    AssetSpec, Channel, Engine, Filled, Grouping, Limit, OrderRequest, OrderState, Rejected, Resting, Success, Tif,
    TpSl, Trigger, WaitingForFill,
)
from venue.engine import types, views
from venue.engine.views import BookLevel, CanceledOrder, Fill, OrderRecord, Trade

T0 = 1_789_999_200_000
ALICE, BOB = "0x" + "a" * 40, "0x" + "b" * 40
ETH = 1


def fresh() -> Engine:
    engine = Engine([AssetSpec("BTC", 5, 40), AssetSpec("ETH", 4, 25)], now_ms=T0)
    engine.fund(ALICE, "100000")
    engine.fund(BOB, "100000")
    engine.set_oracle("ETH", 2000.0)
    return engine


def test_every_value_and_view_is_immutable():
    """A payload is shared by every listener of an event, so none may change it under the others."""
    found = [value for module in (types, views) for value in vars(module).values()]
    structs = [value for value in found if isinstance(value, type) and issubclass(value, msgspec.Struct)]
    assert len(structs) > 35
    for struct in structs:
        assert struct.__struct_config__.frozen, struct.__name__
    level = BookLevel(Decimal("1"), Decimal("2"), 3)
    with pytest.raises(AttributeError):
        level.n = 4  # type: ignore[misc]


def test_statuses_views_and_events_are_typed():
    engine = fresh()
    events = []
    engine.add_listener(events.append)
    (resting,) = engine.place_orders(ALICE, [OrderRequest(ETH, False, "2000.5", "1", cloid="0x" + "0" * 31 + "1")])
    assert resting == Resting(1_000_000, "0x" + "0" * 31 + "1")
    (filled,) = engine.place_orders(BOB, [OrderRequest(ETH, True, Decimal("2001"), "0.4", False, Limit(Tif.IOC))])
    assert filled == Filled(1_000_001, Decimal("0.4"), Decimal("2000.5"))
    assert engine.l2_book("ETH").asks == [BookLevel(Decimal("2000.5"), Decimal("0.6"), 1)]
    (view,) = engine.open_orders(ALICE)
    assert (view.limit_px, view.sz, view.orig_sz, view.tif, view.order_type) == (
        Decimal("2000.5"), Decimal("0.6"), Decimal("1"), Tif.GTC, "Limit")
    (fill,) = engine.user_fills(BOB)
    assert isinstance(fill, Fill) and (fill.is_buy, fill.px, fill.sz, fill.crossed, fill.direction) == (
        True, Decimal("2000.5"), Decimal("0.4"), True, "Open Long")
    assert fill.fee == Decimal("0.360090")  # 800.2 x 0.045%
    trades = next(event for event in events if event.channel is Channel.TRADES).data
    assert trades == [Trade("ETH", True, Decimal("2000.5"), Decimal("0.4"), T0, fill.hash, 1, BOB, ALICE)]
    updates = [record for event in events if event.channel is Channel.ORDER_UPDATES and event.key == ALICE
               for record in event.data]
    assert [(record.status, record.order.sz) for record in updates] == [(OrderState.OPEN, Decimal("1"))]  # no partials
    assert all(isinstance(record, OrderRecord) for record in updates)
    assert engine.cancel(ALICE, [(ETH, view.oid), (ETH, view.oid)]) == [
        Success(), Rejected(f"Order was never placed, already canceled, or filled. asset={ETH}")]
    assert engine.order_status(ALICE, view.oid).status is OrderState.CANCELED
    assert engine.order_status(ALICE, 5) is None


def test_self_trade_cancel_is_a_typed_non_user_cancel_event():
    engine = fresh()
    events = []
    engine.add_listener(events.append)
    (resting,) = engine.place_orders(ALICE, [OrderRequest(ETH, False, "2000", "1")])
    engine.place_orders(ALICE, [OrderRequest(ETH, True, "2000", "1", order_type=Limit(Tif.IOC))])
    cancels = [event.data for event in events if event.channel is Channel.NON_USER_CANCEL]
    assert cancels == [[CanceledOrder("ETH", resting.oid)]]


def test_tpsl_group_with_typed_triggers():
    engine = fresh()
    orders = [OrderRequest(ETH, True, "1990", "1"),
              OrderRequest(ETH, False, "2100", "1", True, Trigger(Decimal("2100"), False, TpSl.TP)),
              OrderRequest(ETH, False, "1800", "1", True, Trigger("1800", True, TpSl.SL))]
    parent, take_profit, stop = engine.place_orders(ALICE, orders, Grouping.NORMAL_TPSL)
    assert isinstance(parent, Resting) and take_profit == stop == WaitingForFill()
    (view,) = engine.open_orders(ALICE)
    assert [(child.trigger_px, child.tpsl, child.is_market) for child in view.children] == [
        (Decimal("2100"), TpSl.TP, False), (Decimal("1800"), TpSl.SL, True)]


@given(st.integers(min_value=1, max_value=99_999), st.integers(min_value=0, max_value=4),
       st.integers(min_value=1, max_value=50_000))
def test_a_decimal_and_its_text_are_the_same_order(mantissa, places, size):
    px = Decimal(mantissa).scaleb(-places)
    sz = Decimal(size).scaleb(-4)
    as_text, as_decimal = fresh(), fresh()
    first = as_text.place_orders(ALICE, [OrderRequest(ETH, True, format(px, "f"), format(sz, "f"))])
    second = as_decimal.place_orders(ALICE, [OrderRequest(ETH, True, px, sz)])
    assert first == second
    assert as_text.historical_orders(ALICE) == as_decimal.historical_orders(ALICE)
