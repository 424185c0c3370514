"""Local Hyperliquid-compatible exchange engine (no HTTP): matching, accounts, margin, funding, candles.

The engine is the exchange without its HTTP layer: matching, accounts, margin,
fees, funding, trigger orders, liquidation, agents and candles. It speaks wire
shapes (the camelCase dicts of the real ``/info`` responses and ``/exchange``
statuses), so venue/server stays thin, and it runs in-process for backtests.
Nonces, signatures and per-IP HTTP limits belong to venue/server; the engine
counts the per-address request budget (``userRateLimit``).

Value types
-----------
``AssetSpec(name, sz_decimals, max_leverage, only_isolated=False)``
    One perp as listed in ``meta.universe``; the list order is the asset id.
``OrderRequest(asset, is_buy, limit_px, sz, reduce_only, order_type, cloid=None)``
    One decoded ``OrderWire``; prices and sizes stay the strings the client
    sent, ``order_type`` is the wire ``t`` (``{"limit": {"tif": ...}}`` or
    ``{"trigger": {"isMarket", "triggerPx", "tpsl"}}``).
``Builder(address, fee)``
    The builder an order action names; ``fee`` in tenths of a basis point of each fill's notional.
``EngineError``
    A rejected action; ``str(error)`` is the exact exchange error string.
``EngineEvent(channel, key, data=None, build=None)``
    One change for listeners. ``channel`` is ``trades``, ``fills``,
    ``orderUpdates``, ``funding``, ``ledger``, ``liquidation``,
    ``nonUserCancel``, ``book``, ``candle`` or ``ctx``; ``key`` is the coin
    for market channels and the lowercase user address for user channels.
    ``data`` is built lazily: trades, fills and order updates carry immutable
    snapshots and format their wire lists (WS trades, fills, ``WsOrder``) on
    the first read of ``data``, which is cached, so listeners that ignore a
    channel do not slow matching. ``funding`` data is
    ``{"coin", "usdc", "szi", "fundingRate", "nSamples", "time"}``, ``candle``
    one candle dict, ``book`` and ``ctx`` None (pull ``l2_book`` /
    ``active_asset_ctx`` when needed). Events compare equal by channel, key
    and data and are unhashable.

``Engine(assets, *, now_ms=0, fee_model=None, latency_model=None, queue_model=None)``
-------------------------------------------------------------------------------------
Defaults: `HyperliquidFees` (tier-0 taker 0.045%, maker 0.015%), `ZeroLatency`
(a `LatencyModel` only shifts the timestamps stamped on orders and fills) and
`PriceTimeQueue` (FIFO within a price level).

* ``lock`` (a ``threading.RLock``): the engine never takes it itself; callers
  sharing an engine across threads hold it around every call. ``now_ms`` is
  engine time, moved only by ``advance`` (0 = not started: the first
  ``advance`` settles no funding).
* Accounts and agents (addresses are lowercased inside): ``fund(user, usdc)``,
  ``is_user(address)``, ``approve_agent(user, agent, name, valid_until_ms)``,
  ``resolve_signer(signer)`` (agent -> its master, user -> itself, else None),
  ``extra_agents(user)``; builder fees: ``approve_builder_fee(user, builder, max_fee)`` (tenths of a basis
  point, at most 1000 = 1%; the builder needs 100 USDC of account value) and ``max_builder_fee(user, builder)``.
* Actions of an authenticated user, returning what goes in ``data.statuses``:
  ``place_orders(user, orders, grouping="na", builder=None)`` (a ``Builder(address, fee)`` must be
  approved by the user, ``fee`` at most the approved rate and the perp cap of 100 = 0.1%, else the whole
  action raises `EngineError`; the fee is charged on every fill of the action's orders, maker or taker),
  ``cancel(user, [(asset, oid)])``, ``cancel_by_cloid(user, [(asset, cloid)])``,
  ``batch_modify(user, [(oid_or_cloid, OrderRequest)])``; and, raising
  `EngineError` on refusal: ``schedule_cancel(user, time_ms | None)``,
  ``update_leverage(user, asset, is_cross, leverage)``,
  ``update_isolated_margin(user, asset, ntli)``,
  ``usd_class_transfer(user, amount, to_perp)``,
  ``usd_send(user, destination, amount)``. Each order, cancel, modify and
  schedule/leverage/margin action adds to the user's ``nRequestsUsed``.
* Market inputs and time: ``set_oracle(coin, px)``; ``advance(now_ms)`` (never
  backwards) samples the premium every 5 s and settles funding at each hour
  crossed, runs scheduled cancels, triggers on the mark, liquidations, then
  emits ``ctx`` events and the ``candle`` events of coins that traded since
  the last ``advance`` (one per interval, as the venue pushes candles per block).
  Triggers are also checked right after every action that traded.
* Queries, wire-shaped like the real ``/info``: ``meta``, ``spot_meta``,
  ``meta_and_asset_ctxs``, ``spot_meta_and_asset_ctxs``, ``all_mids``,
  ``l2_book(coin, n_sig_figs=None, n_levels=20)``, ``bbo``,
  ``active_asset_ctx``, ``candle_snapshot(coin, interval, start_ms, end_ms=None)``
  (candles *opening* in ``[start_ms, end_ms]``, the last one possibly still
  forming; ``end_ms`` defaults to engine time), ``recent_trades``,
  ``funding_history(coin, start_ms, end_ms=None)``, ``clearinghouse_state``,
  ``spot_clearinghouse_state``, ``open_orders``, ``frontend_open_orders``,
  ``user_fills``, ``user_fills_by_time(user, start_ms, end_ms=None, aggregate=False)``,
  ``user_funding``, ``user_non_funding_ledger_updates``,
  ``order_status(user, oid_or_cloid)``, ``historical_orders``, ``user_fees``,
  ``user_rate_limit`` (cap 10 000 + 1 per USDC traded).
* Listeners: ``add_listener(fn)`` / ``remove_listener(fn)`` (removing one not
  registered is ignored). Events of an action go out at its end, synchronously
  inside the engine call and so under the caller's lock; a listener that
  raises is logged and the others still run.
* Persistence: the engine pickles without its lock, listeners, pending events
  and parse caches (venue/persistence.py snapshots it atomically); after
  ``pickle.loads`` it has a fresh lock and no listeners, so call
  ``add_listener`` again.

Modelling choices
-----------------
* Mark price: the median of best bid, best ask and last trade, each missing
  input replaced by the oracle; without an oracle, the median of what exists
  (of two values, their midpoint); a coin with neither oracle nor market has
  no mark. Triggers, margin and liquidations use it; funding, the oracle.
* Liquidation when cross ``accountValue < crossMaintenanceMarginUsed`` (per
  position when isolated): orders are canceled, the position closes at market
  and what the book cannot absorb goes to a backstop vault.

Not modelled
------------
* Spot trading: orders for spot assets (id >= 10 000) are refused; spot only
  exists as a USDC balance for ``usd_class_transfer`` and a minimal
  ``spotMeta`` (USDC, PURR, PURR/USDC).
* Tiered margin tables: each asset has one tier, maintenance margin
  ``notional / (2 * maxLeverage)`` at any size.
* ``positionTpsl`` size tracking: such orders are accepted and reported with
  ``isPositionTpsl``, but their size stays as sent instead of following the
  position.
"""

from .engine import Engine
from .fees import FeeModel, HyperliquidFees
from .models import FixedLatency, LatencyModel, PriceTimeQueue, QueueModel, ZeroLatency
from .types import AssetSpec, Builder, EngineError, EngineEvent, OrderRequest

__all__ = [
    "AssetSpec",
    "Builder",
    "Engine",
    "EngineError",
    "EngineEvent",
    "FeeModel",
    "FixedLatency",
    "HyperliquidFees",
    "LatencyModel",
    "OrderRequest",
    "PriceTimeQueue",
    "QueueModel",
    "ZeroLatency",
]
