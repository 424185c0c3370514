"""Turn Hyperliquid wire payloads into pairflow events.

The wire carries prices and sizes as decimal strings and ids and times as JSON
numbers. Every function here validates what it reads and raises
:class:`pairflow.errors.ParseError` naming the offending field, so a collector
can log the raw record, count it and move on.

Ids are chosen so that the same real-world event always gets the same id,
whichever path delivered it (WebSocket push, REST backfill, replay):
trades use the exchange trade id, candles their open time and interval,
funding rows the hour they settle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pairflow.errors import ParseError
from pairflow.events import AssetContext, Bbo, BookLevel, Candle, FeeSchedule, Funding, L2Book, Trade

HOUR_MS = 3_600_000


def _get(obj: Any, key: str, path: str) -> Any:
    if not isinstance(obj, Mapping):
        raise ParseError(path or "<root>", obj, "expected a JSON object")
    if key not in obj:
        raise ParseError(f"{path}.{key}" if path else key, None, "missing field")
    return obj[key]


def _decimal(obj: Any, key: str, path: str, *, positive: bool = False, non_negative: bool = False) -> float:
    raw = _get(obj, key, path)
    name = f"{path}.{key}" if path else key
    if not isinstance(raw, str):
        raise ParseError(name, raw, "expected a decimal string")
    try:
        value = float(raw)
    except ValueError:
        raise ParseError(name, raw, "expected a decimal string") from None
    if not math.isfinite(value):
        raise ParseError(name, raw, "expected a finite number")
    if positive and value <= 0:
        raise ParseError(name, raw, "expected a positive number")
    if non_negative and value < 0:
        raise ParseError(name, raw, "expected a non-negative number")
    return value


def _optional_decimal(obj: Any, key: str, path: str) -> float | None:
    if obj.get(key) is None:
        return None
    return _decimal(obj, key, path)


def _int(obj: Any, key: str, path: str) -> int:
    raw = _get(obj, key, path)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ParseError(f"{path}.{key}" if path else key, raw, "expected an integer")
    return raw


def _coin(obj: Any, key: str, path: str) -> str:
    raw = _get(obj, key, path)
    if not isinstance(raw, str) or not raw:
        raise ParseError(f"{path}.{key}" if path else key, raw, "expected a coin name")
    return raw


def _list(raw: Any, path: str) -> Sequence[Any]:
    if not isinstance(raw, list):
        raise ParseError(path, raw, "expected a JSON array")
    return raw


def parse_trade(raw: Any, recv_ts: int, path: str = "trade") -> Trade:
    """Parse one trade of the ``trades`` channel (or ``recentTrades``)."""
    side = _get(raw, "side", path)
    if side not in ("B", "A"):
        raise ParseError(f"{path}.side", side, "expected 'B' or 'A'")
    coin = _coin(raw, "coin", path)
    tid = _int(raw, "tid", path)
    return Trade(
        id=f"{coin}:{tid}",
        coin=coin,
        ts=_int(raw, "time", path),
        recv_ts=recv_ts,
        px=_decimal(raw, "px", path, positive=True),
        sz=_decimal(raw, "sz", path, positive=True),
        side=side,
        tid=tid,
        hash=str(raw.get("hash", "")),
    )


def parse_ws_trades(data: Any, recv_ts: int) -> list[Trade]:
    """Parse the ``data`` list of a ``trades`` frame."""
    return [parse_trade(t, recv_ts, f"data[{i}]") for i, t in enumerate(_list(data, "data"))]


def _levels(raw: Any, path: str) -> tuple[BookLevel, ...]:
    levels = []
    for i, level in enumerate(_list(raw, path)):
        where = f"{path}[{i}]"
        levels.append(
            BookLevel(
                _decimal(level, "px", where, positive=True),
                _decimal(level, "sz", where, non_negative=True),
                _int(level, "n", where) if "n" in level else 0,
            )
        )
    return tuple(levels)


def parse_l2_book(data: Any, recv_ts: int) -> L2Book:
    """Parse an ``l2Book`` frame or ``/info l2Book`` response."""
    coin = _coin(data, "coin", "data")
    ts = _int(data, "time", "data")
    sides = _list(_get(data, "levels", "data"), "data.levels")
    if len(sides) != 2:
        raise ParseError("data.levels", sides, "expected [bids, asks]")
    bids = _levels(sides[0], "data.levels[0]")
    asks = _levels(sides[1], "data.levels[1]")
    if bids and asks and bids[0].px >= asks[0].px:
        raise ParseError("data.levels", f"{bids[0].px}>={asks[0].px}", "book is crossed")
    return L2Book(id=f"{coin}:{ts}", coin=coin, ts=ts, recv_ts=recv_ts, bids=bids, asks=asks)


def parse_bbo(data: Any, recv_ts: int) -> Bbo:
    """Parse a ``bbo`` frame; an empty side is ``null`` on the wire."""
    coin = _coin(data, "coin", "data")
    ts = _int(data, "time", "data")
    pair = _list(_get(data, "bbo", "data"), "data.bbo")
    if len(pair) != 2:
        raise ParseError("data.bbo", pair, "expected [bid, ask]")
    bid, ask = pair
    return Bbo(
        id=f"{coin}:{ts}",
        coin=coin,
        ts=ts,
        recv_ts=recv_ts,
        bid_px=None if bid is None else _decimal(bid, "px", "data.bbo[0]", positive=True),
        bid_sz=None if bid is None else _decimal(bid, "sz", "data.bbo[0]", non_negative=True),
        ask_px=None if ask is None else _decimal(ask, "px", "data.bbo[1]", positive=True),
        ask_sz=None if ask is None else _decimal(ask, "sz", "data.bbo[1]", non_negative=True),
    )


def parse_candle(data: Any, recv_ts: int, path: str = "data") -> Candle:
    """Parse one candle of a ``candle`` frame or a ``candleSnapshot`` row."""
    coin = _coin(data, "s", path)
    interval = _get(data, "i", path)
    if not isinstance(interval, str) or not interval:
        raise ParseError(f"{path}.i", interval, "expected an interval such as '1m'")
    ts = _int(data, "t", path)
    close_ts = _int(data, "T", path)
    if close_ts < ts:
        raise ParseError(f"{path}.T", close_ts, "close time is before open time")
    high = _decimal(data, "h", path, positive=True)
    low = _decimal(data, "l", path, positive=True)
    if low > high:
        raise ParseError(f"{path}.l", data["l"], "low is above high")
    return Candle(
        id=f"{coin}:{interval}:{ts}",
        coin=coin,
        interval=interval,
        ts=ts,
        close_ts=close_ts,
        recv_ts=recv_ts,
        open=_decimal(data, "o", path, positive=True),
        high=high,
        low=low,
        close=_decimal(data, "c", path, positive=True),
        volume=_decimal(data, "v", path, non_negative=True),
        trades=_int(data, "n", path),
    )


def parse_candle_snapshot(data: Any, recv_ts: int) -> list[Candle]:
    """Parse a ``candleSnapshot`` response."""
    return [parse_candle(row, recv_ts, f"[{i}]") for i, row in enumerate(_list(data, "response"))]


def _asset_context(coin: str, ctx: Any, ts: int, recv_ts: int, path: str) -> AssetContext:
    return AssetContext(
        id=f"{coin}:{ts}",
        coin=coin,
        ts=ts,
        recv_ts=recv_ts,
        mark_px=_decimal(ctx, "markPx", path, positive=True),
        oracle_px=_decimal(ctx, "oraclePx", path, positive=True),
        mid_px=_optional_decimal(ctx, "midPx", path),
        open_interest=_decimal(ctx, "openInterest", path, non_negative=True),
        funding=_decimal(ctx, "funding", path),
        premium=_optional_decimal(ctx, "premium", path),
        day_ntl_vlm=_decimal(ctx, "dayNtlVlm", path),
        prev_day_px=_decimal(ctx, "prevDayPx", path),
    )


def parse_active_asset_ctx(data: Any, recv_ts: int) -> AssetContext:
    """Parse an ``activeAssetCtx`` frame; it carries no time, so ``ts`` is the receive time."""
    coin = _coin(data, "coin", "data")
    return _asset_context(coin, _get(data, "ctx", "data"), recv_ts, recv_ts, "data.ctx")


def parse_meta_and_asset_ctxs(data: Any, recv_ts: int) -> list[AssetContext]:
    """Parse a ``metaAndAssetCtxs`` response into one context per listed asset."""
    pair = _list(data, "response")
    if len(pair) != 2:
        raise ParseError("response", pair, "expected [meta, assetCtxs]")
    universe = _list(_get(pair[0], "universe", "response[0]"), "response[0].universe")
    ctxs = _list(pair[1], "response[1]")
    if len(universe) != len(ctxs):
        raise ParseError("response[1]", len(ctxs), f"expected {len(universe)} contexts, one per asset")
    out = []
    for i, (asset, ctx) in enumerate(zip(universe, ctxs)):
        if asset.get("isDelisted"):
            continue
        coin = _coin(asset, "name", f"response[0].universe[{i}]")
        out.append(_asset_context(coin, ctx, recv_ts, recv_ts, f"response[1][{i}]"))
    return out


def parse_funding_history(data: Any, recv_ts: int) -> list[Funding]:
    """Parse a ``fundingHistory`` response.

    The exchange stamps each row a few ms after the hour; the id uses the hour
    so a row seen twice (REST poll and backfill) dedupes.
    """
    out = []
    for i, row in enumerate(_list(data, "response")):
        path = f"[{i}]"
        coin = _coin(row, "coin", path)
        ts = _int(row, "time", path)
        out.append(
            Funding(
                id=f"{coin}:{ts // HOUR_MS * HOUR_MS}",
                coin=coin,
                ts=ts,
                recv_ts=recv_ts,
                rate=_decimal(row, "fundingRate", path),
                premium=_optional_decimal(row, "premium", path),
            )
        )
    return out


def parse_user_fees(data: Any, recv_ts: int) -> FeeSchedule:
    """Parse a ``userFees`` response into the effective rates of that user.

    Older responses carry no spot rates at all; those stay ``None`` rather
    than pretending spot trading is free.
    """
    schedule = _get(data, "feeSchedule", "")
    return FeeSchedule(
        id=f"fees:{recv_ts}",
        ts=recv_ts,
        recv_ts=recv_ts,
        taker=_decimal(data, "userCrossRate", ""),
        maker=_decimal(data, "userAddRate", ""),
        spot_taker=_optional_decimal(data, "userSpotCrossRate", "")
        if "userSpotCrossRate" in data
        else _optional_decimal(schedule, "spotCross", "feeSchedule"),
        spot_maker=_optional_decimal(data, "userSpotAddRate", "")
        if "userSpotAddRate" in data
        else _optional_decimal(schedule, "spotAdd", "feeSchedule"),
    )
