"""Market data on the wire: meta, asset contexts, mids, books, candles, trades, funding history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from venue.engine import AssetSpec
from venue.engine.views import AssetContext, Bbo, BookLevel, BookSnapshot, Candle, FundingRate, Trade

from .numbers import optional, text


def meta(assets: list[AssetSpec]) -> dict[str, Any]:
    """Return the ``meta`` response: universe, one single-tier margin table per max leverage, collateral 0."""
    universe = []
    tables = {}
    for spec in assets:
        entry: dict[str, Any] = {"szDecimals": spec.sz_decimals, "name": spec.name, "maxLeverage": spec.max_leverage,
                                 "marginTableId": spec.max_leverage}
        if spec.only_isolated:
            entry["onlyIsolated"] = True
        universe.append(entry)
        tables[spec.max_leverage] = [spec.max_leverage, {
            "description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": spec.max_leverage}]}]
    return {"universe": universe, "marginTables": [tables[key] for key in sorted(tables)], "collateralToken": 0}


def spot_meta() -> dict[str, Any]:
    """Return a minimal ``spotMeta``: USDC (token 0), PURR (token 1) and the PURR/USDC pair (spot is not traded)."""
    return {
        "tokens": [
            {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
             "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True, "evmContract": None,
             "fullName": None},
            {"name": "PURR", "szDecimals": 0, "weiDecimals": 5, "index": 1,
             "tokenId": "0xc1fb593aeffbeb02f85e0308e9956a90", "isCanonical": True, "evmContract": None,
             "fullName": None},
        ],
        "universe": [{"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True}],
    }


def spot_meta_and_asset_ctxs() -> list:
    """Return ``[spotMeta, ctxs]``; the PURR/USDC pair has no market here, so its prices are zero."""
    return [spot_meta(), [{"dayNtlVlm": "0.0", "markPx": "0.0", "midPx": None, "prevDayPx": "0.0",
                           "circulatingSupply": "0.0", "coin": "PURR/USDC"}]]


def asset_ctx(context: AssetContext) -> dict[str, Any]:
    """Return one perp asset context object."""
    impact = context.impact_pxs
    return {
        "funding": text(context.funding),
        "openInterest": text(context.open_interest),
        "prevDayPx": text(context.prev_day_px),
        "dayNtlVlm": text(context.day_ntl_vlm),
        "premium": optional(context.premium),
        "oraclePx": text(context.oracle_px),
        "markPx": text(context.mark_px),
        "midPx": optional(context.mid_px),
        "impactPxs": None if impact is None else [text(impact[0]), text(impact[1])],
        "dayBaseVlm": text(context.day_base_vlm),
    }


def meta_and_asset_ctxs(assets: list[AssetSpec], contexts: list[AssetContext]) -> list:
    """Return ``[meta, ctxs]`` with one ctx per universe entry."""
    return [meta(assets), [asset_ctx(context) for context in contexts]]


def active_asset_ctx(context: AssetContext) -> dict[str, Any]:
    """Return the ``activeAssetCtx`` payload ``{"coin","ctx"}``."""
    return {"coin": context.coin, "ctx": asset_ctx(context)}


def all_mids(mids: dict[str, Decimal]) -> dict[str, str]:
    """Return coin -> mid text."""
    return {coin: text(mid) for coin, mid in mids.items()}


def level(entry: BookLevel) -> dict[str, Any]:
    """Return one book level ``{"px","sz","n"}``."""
    return {"px": text(entry.px), "sz": text(entry.sz), "n": entry.n}


def l2_book(snapshot: BookSnapshot) -> dict[str, Any]:
    """Return the ``l2Book`` snapshot ``{"coin","time","levels":[bids, asks]}``."""
    return {"coin": snapshot.coin, "time": snapshot.time_ms,
            "levels": [[level(entry) for entry in snapshot.bids], [level(entry) for entry in snapshot.asks]]}


def bbo(quote: Bbo) -> dict[str, Any]:
    """Return the ``bbo`` payload ``{"coin","time","bbo":[bid|null, ask|null]}``."""
    return {"coin": quote.coin, "time": quote.time_ms,
            "bbo": [None if quote.bid is None else level(quote.bid), None if quote.ask is None else level(quote.ask)]}


def candle(bar: Candle) -> dict[str, Any]:
    """Return the candle ``{"t","T","s","i","o","c","h","l","v","n"}``."""
    return {"t": bar.open_ms, "T": bar.close_ms, "s": bar.coin, "i": bar.interval, "o": text(bar.open),
            "c": text(bar.close), "h": text(bar.high), "l": text(bar.low), "v": text(bar.volume), "n": bar.trades}


def trade(print_: Trade) -> dict[str, Any]:
    """Return the WS / ``recentTrades`` trade object."""
    return {"coin": print_.coin, "side": "B" if print_.is_buy else "A", "px": text(print_.px),
            "sz": text(print_.sz), "time": print_.time_ms, "hash": print_.hash, "tid": print_.tid,
            "users": [print_.buyer, print_.seller]}


def funding_rate(row: FundingRate) -> dict[str, Any]:
    """Return one ``fundingHistory`` row."""
    return {"coin": row.coin, "fundingRate": text(row.rate), "premium": text(row.premium), "time": row.time_ms}
