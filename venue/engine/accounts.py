"""Per-user state: cash, positions (cross or isolated), fills, ledgers, counters.

Money is integer micro-USDC. A position keeps ``basis`` = signed ``szi * entryPx`` in micro-USDC, so the
unrealised PnL is ``szi * mark - basis`` and realised PnL needs no division except when part of a position
closes; the basis removed is exactly what the realised PnL subtracts, which keeps value conserved.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from .rules import MONEY_DECIMALS, dec
from .views import Fill, FundingPayment, LedgerUpdate


def tx_hash(*parts: object) -> str:
    """Return a deterministic ``0x`` + 64 hex transaction hash for the given identifiers."""
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@lru_cache(maxsize=4096)
def order_hash(oid: int) -> str:
    """Return the transaction hash of the order ``oid`` (shared by its trades and both sides' fills)."""
    return tx_hash("order", oid)


class Position:
    """Hold one open position; sizes are scaled integers of the asset, money in micro-USDC."""

    __slots__ = ("szi", "basis", "iso_margin", "cum_all", "cum_open", "cum_change")

    def __init__(self) -> None:
        self.szi = 0
        self.basis = 0
        self.iso_margin = 0
        self.cum_all = 0
        self.cum_open = 0
        self.cum_change = 0


# A fill is a plain tuple (cheap to build on the hot path); these are its field positions.
F_COIN, F_PX, F_SZ, F_IS_BUY, F_TIME, F_START, F_DELTA, F_CLOSED, F_OID, F_CROSSED, F_FEE, F_TID, F_CLOID, \
    F_PXD, F_SZD, F_TAKER_OID, F_BUILDER_FEE, F_LIQUIDATION = range(18)


def fill_view(fill: tuple) -> Fill:
    """Return the typed `Fill` of a stored fill tuple."""
    szd = fill[F_SZD]
    builder_fee = fill[F_BUILDER_FEE]
    return Fill(fill[F_COIN], dec(fill[F_PX], fill[F_PXD]), dec(fill[F_SZ], szd), fill[F_IS_BUY], fill[F_TIME],
                dec(fill[F_START], szd), direction_of(fill[F_START], fill[F_DELTA]),
                dec(fill[F_CLOSED], MONEY_DECIMALS), order_hash(fill[F_TAKER_OID]), fill[F_OID], fill[F_CROSSED],
                dec(fill[F_FEE], MONEY_DECIMALS), fill[F_TID],
                dec(builder_fee, MONEY_DECIMALS) if builder_fee else None, fill[F_CLOID], fill[F_LIQUIDATION])


class Account:
    """Everything the engine knows about one address."""

    __slots__ = ("address", "cash", "positions", "settings", "open_orders", "reserved", "spot_usdc", "fills",
                 "fundings", "ledger", "orders", "cloids", "cum_vlm", "daily_vlm", "n_requests", "fee_rates", "fee_day",
                 "scheduled_cancel", "schedule_day", "schedule_count", "reduce_only_open")

    def __init__(self, address: str) -> None:
        self.address = address
        self.cash = 0
        self.positions: dict[int, Position] = {}
        self.settings: dict[int, list] = {}
        self.open_orders: dict[int, object] = {}
        self.reserved = 0
        self.spot_usdc = 0
        self.fills: list[tuple] = []
        self.fundings: list[FundingPayment] = []
        self.ledger: list[LedgerUpdate] = []
        self.orders: list = []
        self.cloids: dict[str, object] = {}
        self.cum_vlm = 0
        self.daily_vlm: dict[int, list[int]] = {}
        self.n_requests = 0
        self.fee_rates: tuple[int, int] | None = None
        self.fee_day = -1
        self.scheduled_cancel: int | None = None
        self.schedule_day = -1
        self.schedule_count = 0
        self.reduce_only_open = 0


def direction_of(start: int, delta: int) -> str:
    """Return the fill ``dir`` string for a signed size change from ``start``."""
    end = start + delta
    if start == 0 or (start > 0 and delta > 0) or (start < 0 and delta < 0):
        return "Open Long" if delta > 0 else "Open Short"
    if start > 0 and end < 0:
        return "Long > Short"
    if start < 0 and end > 0:
        return "Short > Long"
    return "Close Long" if start > 0 else "Close Short"


def apply_trade(account: Account, position: Position, delta: int, px: int, cross: bool, leverage: int) -> int:
    """Move a position by ``delta`` at ``px``; return the realised PnL (micro-USDC, fee excluded).

    The realised PnL goes to cash (cross) or to the isolated margin, of which the closed fraction is then
    released back to cash. Opening isolated size locks ``notional / leverage`` of cash as isolated margin.
    """
    old = position.szi
    realised = 0
    if old == 0 or (old > 0) == (delta > 0):
        position.basis += px * delta
        opened = abs(delta)
    else:
        size = abs(old)
        closed = min(abs(delta), size)
        removed = position.basis if closed == size else position.basis * closed // size
        realised = (px * closed if old > 0 else -px * closed) - removed
        position.basis -= removed
        opened = abs(delta) - closed
        if opened:
            position.basis = px * opened * (1 if delta > 0 else -1)
        if not cross:
            position.iso_margin += realised
            released = position.iso_margin if closed == size else position.iso_margin * closed // size
            position.iso_margin -= released
            account.cash += released
            realised_to_cash = 0
        else:
            realised_to_cash = realised
        account.cash += realised_to_cash
    position.szi = old + delta
    if position.szi == 0 or (old != 0 and (old > 0) != (position.szi > 0)):
        position.cum_open = 0
    if opened and not cross:
        margin = px * opened // leverage
        account.cash -= margin
        position.iso_margin += margin
    return realised
