"""WebSocket frames built from engine queries, in the real venue's shapes (PROTOCOL §7).

Every builder takes ``engine.lock`` itself and is meant to run in a worker
thread, so a market driver holding the lock never stalls the event loop.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..wire import account, market
from .subscriptions import USER_TYPES, Key

__all__ = ["FrameBuilder", "Frame", "change_token", "encode"]

Frame = dict[str, Any]


def encode(frame: Frame) -> str:
    """Return the JSON text of a frame."""
    return msgspec.json.encode(frame).decode()


def change_token(key: Key, data: Any) -> Any:
    """Return what must differ for a frame to count as a change (a bbo's levels, not its time)."""
    return data.get("bbo") if key[0] == "bbo" else data


def _is_spot(coin: str) -> bool:
    return coin.startswith("@") or "/" in coin


class FrameBuilder:
    """Build the frames of one routing key from the engine's current state.

    Parameters
    ----------
    engine
        The `venue.engine.Engine`, queried under ``engine.lock``.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def book(self, key: Key) -> Frame:
        with self.engine.lock:
            book = self.engine.l2_book(key[1], n_sig_figs=key[2])
        return {"channel": "l2Book", "data": market.l2_book(book)}

    def mids(self) -> Frame:
        with self.engine.lock:
            mids = self.engine.all_mids()
        return {"channel": "allMids", "data": {"mids": market.all_mids(mids)}}

    def bbo(self, coin: str) -> Frame:
        with self.engine.lock:
            quote = self.engine.bbo(coin)
        return {"channel": "bbo", "data": market.bbo(quote)}

    def asset_ctx(self, coin: str) -> Frame:
        with self.engine.lock:
            context = self.engine.asset_context(coin)
        return {"channel": "activeSpotAssetCtx" if _is_spot(coin) else "activeAssetCtx",
                "data": market.active_asset_ctx(context)}

    def web_data(self, user: str) -> Frame:
        with self.engine.lock:
            state = self.engine.clearinghouse_state(user)
            orders = self.engine.open_orders(user)
        return {"channel": "webData2", "data": {"user": user, "clearinghouseState": account.clearinghouse_state(state),
                                                "openOrders": [account.frontend_order(view) for view in orders]}}

    def active_asset_data(self, coin: str, user: str) -> Frame:
        with self.engine.lock:
            state = account.clearinghouse_state(self.engine.clearinghouse_state(user))
            ctx = market.asset_ctx(self.engine.asset_context(coin))
            universe = market.meta(self.engine.assets)["universe"]
        max_leverage = next((a["maxLeverage"] for a in universe if a["name"] == coin), 1)
        leverage: dict[str, Any] = {"type": "cross", "value": min(20, max_leverage)}
        for position in state.get("assetPositions", []):
            if position["position"]["coin"] == coin:
                leverage = position["position"]["leverage"]
        mark = float(ctx.get("markPx") or 0.0)
        available = float(state.get("withdrawable") or 0.0)
        max_size = available * leverage["value"] / mark if mark > 0 else 0.0
        return {"channel": "activeAssetData", "data": {
            "user": user, "coin": coin, "leverage": leverage,
            "maxTradeSzs": [f"{max_size:.8g}", f"{max_size:.8g}"],
            "availableToTrade": [f"{available:.6f}", f"{available:.6f}"],
            "markPx": ctx.get("markPx", "0.0"),
        }}

    def user_view(self, key: Key) -> Frame:
        """Return the ``webData2`` or ``activeAssetData`` frame of ``key`` (views recomputed after user events)."""
        return self.web_data(key[1]) if key[0] == "webData2" else self.active_asset_data(key[1], key[2])

    def cadence(self, keys: list[Key]) -> list[tuple[Key, Frame, bool]]:
        """Return the periodic frames: every subscribed book; mids and contexts flagged send-only-if-changed."""
        out = []
        for key in keys:
            if key[0] == "l2Book":
                out.append((key, self.book(key), False))
            elif key[0] == "allMids":
                out.append((key, self.mids(), True))
            else:
                out.append((key, self.asset_ctx(key[1]), True))
        return out

    def snapshot(self, key: Key) -> list[Frame]:
        """Return the frames a new subscriber to ``key`` gets first (an engine error refuses the subscription)."""
        kind = key[0]
        engine = self.engine
        if kind == "l2Book":
            return [self.book(key)]
        if kind == "allMids":
            return [self.mids()]
        if kind == "bbo":
            return [self.bbo(key[1])]
        if kind == "trades":
            with engine.lock:
                trades = engine.recent_trades(key[1])
            return [{"channel": "trades", "data": [market.trade(trade) for trade in trades]}] if trades else []
        if kind == "activeAssetCtx":
            return [self.asset_ctx(key[1])]
        if kind in ("activeAssetData", "webData2"):
            return [self.user_view(key)]
        user = key[1] if kind in USER_TYPES else None
        if kind == "userFills":
            with engine.lock:
                fills = engine.user_fills(user)
            return [{"channel": "userFills",
                     "data": {"isSnapshot": True, "user": user, "fills": [account.fill(fill) for fill in fills]}}]
        if kind == "userFundings":
            with engine.lock:
                history = engine.user_funding(user, 0, None)
            fundings = [account.funding_event(payment) for payment in history]
            return [{"channel": "userFundings", "data": {"isSnapshot": True, "user": user, "fundings": fundings}}]
        if kind == "userNonFundingLedgerUpdates":
            with engine.lock:
                updates = engine.user_non_funding_ledger_updates(user, 0, None)
            return [{"channel": "userNonFundingLedgerUpdates",
                     "data": {"isSnapshot": True, "user": user,
                              "nonFundingLedgerUpdates": [account.ledger_update(update) for update in updates]}}]
        return []
