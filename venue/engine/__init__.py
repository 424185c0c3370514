"""Local Hyperliquid-compatible exchange engine, in-process and typed: matching, accounts, margin, funding.

The engine is the exchange without its HTTP layer: matching, accounts, margin, fees, funding, trigger
orders, liquidation, agents, builder fees and candles. It takes and returns typed objects (msgspec
Structs, exact `Decimal` numbers, integer ms); ``venue.server`` turns them into the real API's JSON.
The backtest's simulated executor drives it in-process, with the execution models swapped:

>>> from decimal import Decimal
>>> from venue.engine import AssetSpec, Channel, Engine, FixedLatency, Limit, OrderRequest, Tif
>>> class FlatFees:  # a FeeModel: (taker, maker) rates in units of 1e-8
...     def rates(self, user, volume_14d_usd):
...         return 20_000, 0
>>> engine = Engine([AssetSpec("ETH", 4, 25)], now_ms=1_700_000_000_000,
...                 fee_model=FlatFees(), latency_model=FixedLatency(50))
>>> maker, taker = "0x" + "a" * 40, "0x" + "b" * 40
>>> for user in (maker, taker):
...     engine.fund(user, "10000")
>>> engine.set_oracle("ETH", 2000.0)
>>> fills = []
>>> engine.add_listener(lambda event: fills.extend(event.data) if event.channel is Channel.FILLS else None)
>>> engine.place_orders(maker, [OrderRequest(0, False, "2000.5", "0.5")])
[Resting(oid=1000000, cloid=None)]
>>> engine.place_orders(taker, [OrderRequest(0, True, Decimal("2001"), "0.2", order_type=Limit(Tif.IOC))])
[Filled(oid=1000001, total_sz=Decimal('0.2000'), avg_px=Decimal('2000.50'), cloid=None)]
>>> [(fill.px, fill.sz, fill.fee, fill.time_ms) for fill in fills if fill.crossed]
[(Decimal('2000.50'), Decimal('0.2000'), Decimal('0.080020'), 1700000000050)]
>>> engine.advance(1_700_000_060_000)  # time moves only when told: funding, triggers, liquidations
>>> engine.clearinghouse_state(taker).positions[0].szi
Decimal('0.2000')

Nonces, signatures and per-IP HTTP limits belong to venue/server; the engine counts the per-address
request budget (``user_rate_limit``).

Execution models (constructor arguments)
----------------------------------------
``fee_model`` (`FeeModel`: ``rates(user, volume_14d_usd) -> (taker, maker)`` in units of 1e-8; default
`HyperliquidFees`, tier 0 taker 0.045% / maker 0.015% with the documented volume tiers),
``latency_model`` (`LatencyModel`: ``order_latency_ms(user)``, added to the time stamped on the user's
orders and fills; default `ZeroLatency`; the engine stays synchronous, so a delay before the order
reaches the book is the caller's to model by calling later) and ``queue_model`` (`QueueModel`:
``enqueue(level, order)`` puts a new resting order into its price level, which matching consumes from
the left; default `PriceTimeQueue`, FIFO) and ``funding_model`` (`FundingModel`: ``hourly_rate(coin, time_ms,
average_premium)``, the rate settled at each hour; default `PremiumFunding`, the documented formula; a backtest
charges the recorded rates instead).

Inputs
------
``AssetSpec(name, sz_decimals, max_leverage, only_isolated=False)``: one perp; list order is the asset id.
``OrderRequest(asset, is_buy, limit_px, sz, reduce_only=False, order_type=Limit(), cloid=None)``: prices and
sizes are a `Decimal` or its exact text; ``order_type`` is ``Limit(Tif.GTC | IOC | ALO)`` or
``Trigger(trigger_px, is_market, TpSl.TP | SL)``. ``Grouping.NA | NORMAL_TPSL | POSITION_TPSL`` relates the
orders of one action; ``Builder(address, fee)`` names a builder charging ``fee`` tenths of a basis point.

Engine API
----------
* ``lock`` (a ``threading.RLock``): the engine never takes it itself; callers sharing an engine across
  threads hold it around every call. ``now_ms`` is engine time, moved only by ``advance`` (0 = not
  started: the first ``advance`` settles no funding).
* Accounts (addresses are lowercased inside): ``fund(user, usdc)``, ``is_user(address)``,
  ``approve_agent(user, agent, name, valid_until_ms)``, ``resolve_signer(signer)`` (agent -> its master,
  user -> itself, else None); builder fees: ``approve_builder_fee(user, builder, max_fee)`` (tenths of a
  basis point, at most 1000 = 1%; the builder needs 100 USDC of account value) and
  ``max_builder_fee(user, builder)``.
* Actions of an authenticated user: ``place_orders(user, orders, grouping=Grouping.NA, builder=None)`` and
  ``batch_modify(user, [(oid_or_cloid, OrderRequest)])`` return one `OrderStatus` per order (`Resting`,
  `Filled`, `Rejected`, `WaitingForFill`, `WaitingForTrigger`); ``cancel(user, [(asset, oid)])`` and
  ``cancel_by_cloid(user, [(asset, cloid)])`` return `Success` or `Rejected` per cancel. A builder must be
  approved by the user, its fee at most the approved rate and the perp cap (100 = 0.1%), else
  ``place_orders`` raises `EngineError` and places nothing; the fee is charged on every fill of the
  action's orders, maker or taker. Raising `EngineError` on refusal: ``schedule_cancel(user, time_ms |
  None)``, ``update_leverage(user, asset, is_cross, leverage)``, ``update_isolated_margin(user, asset,
  ntli)``, ``usd_class_transfer(user, amount, to_perp)``, ``usd_send(user, destination, amount)``. Each
  order, cancel, modify and schedule/leverage/margin action adds to the user's request count.
* Market inputs and time: ``set_oracle(coin, px)``; ``advance(now_ms)`` (never backwards) samples the
  premium every 5 s and settles funding at each hour crossed, runs scheduled cancels, triggers on the mark,
  liquidations, then emits ``CTX`` events and the ``CANDLE`` events of coins that traded since the last
  ``advance``. Triggers are also checked right after every action that traded.
* Queries (views in `venue.engine.views`): ``assets``, ``asset_context(coin)``, ``asset_contexts()``,
  ``all_mids()``, ``l2_book(coin, n_sig_figs=None, n_levels=20)``, ``bbo(coin)``,
  ``candle_snapshot(coin, interval, start_ms, end_ms=None)`` (candles *opening* in the range, the last one
  possibly still forming; ``end_ms`` defaults to engine time), ``recent_trades(coin)``,
  ``funding_history(coin, start_ms, end_ms=None)``, ``clearinghouse_state(user)``, ``spot_balances(user)``,
  ``open_orders(user)``, ``user_fills(user)``, ``user_fills_by_time(user, start_ms, end_ms=None,
  aggregate=False)``, ``user_funding``, ``user_non_funding_ledger_updates``, ``order_status(user,
  oid_or_cloid)`` (None when unknown), ``historical_orders``, ``user_fees``, ``user_rate_limit`` (cap
  10 000 + 1 per USDC traded), ``extra_agents``.
* `views.OrderRecord` carries an `OrderState` (the exchange's status names as values).
* Listeners: ``add_listener(fn)`` / ``remove_listener(fn)`` (removing one not registered is ignored),
  ``listeners``. ``fn`` gets `EngineEvent` ``(channel, key, data)``: ``channel`` is a `Channel` whose
  docstring names the payload type, ``key`` the coin or the lowercase user. Payloads are built on first
  read of ``data``, so a listener that ignores a channel does not slow matching. Events of an action go
  out at its end, synchronously inside the engine call and so under the caller's lock; a listener that
  raises is logged and the others still run.
* Persistence: the engine pickles as its state (venue/persistence.py snapshots it atomically); after
  ``pickle.loads`` it has a fresh lock and no listeners, so call ``add_listener`` again.

Modelling choices
-----------------
* Mark price: the median of best bid, best ask and last trade, each missing input replaced by the
  oracle; without an oracle, the median of what exists (of two values, their midpoint); a coin with
  neither oracle nor market has no mark. Triggers, margin and liquidations use it; funding, the oracle.
* Liquidation when cross ``accountValue < crossMaintenanceMarginUsed`` (per position when isolated):
  orders are canceled, the position closes at market and what the book cannot absorb goes to a
  backstop vault.

Not modelled
------------
* Spot trading: orders for spot assets (id >= 10 000) are refused; spot only exists as a USDC balance
  for ``usd_class_transfer``.
* Tiered margin tables: each asset has one tier, maintenance margin ``notional / (2 * maxLeverage)`` at
  any size.
* ``positionTpsl`` size tracking: such orders are accepted and reported with ``is_position_tpsl``, but
  their size stays as sent instead of following the position.
"""

from .engine import Engine
from .fees import FeeModel, HyperliquidFees
from .models import FixedLatency, FundingModel, LatencyModel, PremiumFunding, PriceTimeQueue, QueueModel, ZeroLatency
from .types import (
    AssetSpec, Builder, CancelStatus, Channel, EngineError, EngineEvent, Filled, Grouping, Limit, OrderRequest,
    OrderState, OrderStatus, Rejected, Resting, Success, Tif, TpSl, Trigger, WaitingForFill, WaitingForTrigger,
)

__all__ = [
    "AssetSpec",
    "Builder",
    "CancelStatus",
    "Channel",
    "Engine",
    "EngineError",
    "EngineEvent",
    "FeeModel",
    "Filled",
    "FixedLatency",
    "FundingModel",
    "Grouping",
    "HyperliquidFees",
    "LatencyModel",
    "Limit",
    "OrderRequest",
    "OrderState",
    "OrderStatus",
    "PremiumFunding",
    "PriceTimeQueue",
    "QueueModel",
    "Rejected",
    "Resting",
    "Success",
    "Tif",
    "TpSl",
    "Trigger",
    "WaitingForFill",
    "WaitingForTrigger",
    "ZeroLatency",
]
