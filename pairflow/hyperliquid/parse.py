"""Turn Hyperliquid wire payloads into pairflow events.

The shape of every payload (which fields, which JSON types) is checked by
decoding it into the msgspec types of `pairflow.hyperliquid.schemas`, the same
module the venue and the client use. What msgspec cannot check is checked
here: decimal strings that must be finite, positive or non-negative numbers,
trade sides, uncrossed books. Every failure raises
:class:`pairflow.errors.ParseError` naming the offending field (``data[0].px``),
so a collector can log the raw record, count it and move on.

Ids are chosen so that the same real-world event always gets the same id,
whichever path delivered it (WebSocket push, REST backfill, replay):
trades use the exchange trade id, candles their open time and interval,
funding rows the hour they settle.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeVar

import msgspec

from pairflow.errors import ParseError
from pairflow.events import AssetContext, Bbo, BookLevel, Candle, Delisting, FeeSchedule, Funding, L2Book, Trade
from pairflow.hyperliquid.schemas import (
    ActiveAssetCtxWire,
    AssetCtxWire,
    BboWire,
    CandleWire,
    FundingRowWire,
    L2BookWire,
    LevelWire,
    MetaAssetWire,
    MetaWire,
    TradeWire,
    UserFeesWire,
)

HOUR_MS = 3_600_000

_W = TypeVar("_W")
_MISSING = re.compile(r"^Object missing required field `([^`]*)`(?: - at `\$(.*)`)?$")
_AT = re.compile(r"^(.*) - at `\$(.*)`$")
_EXPECTED = re.compile(r"^Expected `([^`]*)`, got `([^`]*)`")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_JSON_TYPES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
               "array": "a JSON array", "object": "a JSON object", "null": "null"}


def _field(root: str, where: str) -> str:
    if not root:
        return where.lstrip(".") or "<root>"
    return root + where


def _received(raw: Any, where: str) -> Any:
    """Return the value at msgspec's error path ``where`` (``.levels[0][1].px``) inside ``raw``, if reachable."""
    value = raw
    for name, index in _STEP.findall(where):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _reason(detail: str) -> str:
    expected = _EXPECTED.match(detail)
    if expected is None:
        return detail[0].lower() + detail[1:] if detail else "invalid value"
    kinds = [_JSON_TYPES.get(kind.strip(), kind.strip()) for kind in expected.group(1).split("|")]
    return "expected " + " or ".join(kinds)


def _error(message: str, raw: Any, root: str) -> ParseError:
    missing = _MISSING.match(message)
    if missing is not None:
        return ParseError(_field(root, f"{missing.group(2) or ''}.{missing.group(1)}"), None, "missing field")
    at = _AT.match(message)
    detail, where = (at.group(1), at.group(2)) if at is not None else (message, "")
    return ParseError(_field(root, where), _received(raw, where), _reason(detail))


def _decode(raw: Any, wire: type[_W], root: str) -> _W:
    """Decode already-parsed JSON into ``wire``; a mismatch raises `ParseError` naming the field under ``root``."""
    try:
        return msgspec.convert(raw, wire)
    except msgspec.ValidationError as exc:
        raise _error(str(exc), raw, root) from None


def decimal_field(text: str, name: str, *, positive: bool = False, non_negative: bool = False) -> float:
    """Return a wire decimal string as a float; anything else (text, inf, nan, a bad sign) raises `ParseError`.

    Examples
    --------
    >>> decimal_field("2215.4", "px", positive=True)
    2215.4
    """
    try:
        value = float(text)
    except ValueError:
        raise ParseError(name, text, "expected a decimal string") from None
    if not math.isfinite(value):
        raise ParseError(name, text, "expected a finite number")
    if positive and value <= 0:
        raise ParseError(name, text, "expected a positive number")
    if non_negative and value < 0:
        raise ParseError(name, text, "expected a non-negative number")
    return value


def _optional_decimal(text: str | None, name: str) -> float | None:
    return None if text is None else decimal_field(text, name)


def _coin(coin: str, name: str) -> str:
    if not coin:
        raise ParseError(name, coin, "expected a coin name")
    return coin


def _trade(wire: TradeWire, recv_ts: int, path: str) -> Trade:
    if wire.side != "B" and wire.side != "A":
        raise ParseError(f"{path}.side", wire.side, "expected 'B' or 'A'")
    coin = _coin(wire.coin, f"{path}.coin")
    return Trade(
        id=f"{coin}:{wire.tid}",
        coin=coin,
        ts=wire.time,
        recv_ts=recv_ts,
        px=decimal_field(wire.px, f"{path}.px", positive=True),
        sz=decimal_field(wire.sz, f"{path}.sz", positive=True),
        side=wire.side,
        tid=wire.tid,
        hash=wire.hash,
    )


def parse_trade(raw: Any, recv_ts: int, path: str = "trade") -> Trade:
    """Parse one trade of the ``trades`` channel (or ``recentTrades``)."""
    return _trade(_decode(raw, TradeWire, path), recv_ts, path)


def parse_ws_trades(data: Any, recv_ts: int) -> list[Trade]:
    """Parse the ``data`` list of a ``trades`` frame."""
    return [_trade(wire, recv_ts, f"data[{i}]") for i, wire in enumerate(_decode(data, list[TradeWire], "data"))]


def _levels(wires: list[LevelWire], path: str) -> tuple[BookLevel, ...]:
    return tuple(
        BookLevel(
            decimal_field(level.px, f"{path}[{i}].px", positive=True),
            decimal_field(level.sz, f"{path}[{i}].sz", non_negative=True),
            level.n,
        )
        for i, level in enumerate(wires)
    )


def parse_l2_book(data: Any, recv_ts: int) -> L2Book:
    """Parse an ``l2Book`` frame or ``/info l2Book`` response."""
    wire = _decode(data, L2BookWire, "data")
    coin = _coin(wire.coin, "data.coin")
    if len(wire.levels) != 2:
        raise ParseError("data.levels", data["levels"], "expected [bids, asks]")
    bids = _levels(wire.levels[0], "data.levels[0]")
    asks = _levels(wire.levels[1], "data.levels[1]")
    if bids and asks and bids[0].px >= asks[0].px:
        raise ParseError("data.levels", f"{bids[0].px}>={asks[0].px}", "book is crossed")
    return L2Book(id=f"{coin}:{wire.time}", coin=coin, ts=wire.time, recv_ts=recv_ts, bids=bids, asks=asks)


def parse_bbo(data: Any, recv_ts: int) -> Bbo:
    """Parse a ``bbo`` frame; an empty side is ``null`` on the wire."""
    wire = _decode(data, BboWire, "data")
    coin = _coin(wire.coin, "data.coin")
    if len(wire.bbo) != 2:
        raise ParseError("data.bbo", data["bbo"], "expected [bid, ask]")
    bid, ask = wire.bbo
    return Bbo(
        id=f"{coin}:{wire.time}",
        coin=coin,
        ts=wire.time,
        recv_ts=recv_ts,
        bid_px=None if bid is None else decimal_field(bid.px, "data.bbo[0].px", positive=True),
        bid_sz=None if bid is None else decimal_field(bid.sz, "data.bbo[0].sz", non_negative=True),
        ask_px=None if ask is None else decimal_field(ask.px, "data.bbo[1].px", positive=True),
        ask_sz=None if ask is None else decimal_field(ask.sz, "data.bbo[1].sz", non_negative=True),
    )


def _candle(wire: CandleWire, recv_ts: int, path: str) -> Candle:
    coin = _coin(wire.s, f"{path}.s")
    if not wire.i:
        raise ParseError(f"{path}.i", wire.i, "expected an interval such as '1m'")
    if wire.T < wire.t:
        raise ParseError(f"{path}.T", wire.T, "close time is before open time")
    high = decimal_field(wire.h, f"{path}.h", positive=True)
    low = decimal_field(wire.l, f"{path}.l", positive=True)
    if low > high:
        raise ParseError(f"{path}.l", wire.l, "low is above high")
    return Candle(
        id=f"{coin}:{wire.i}:{wire.t}",
        coin=coin,
        interval=wire.i,
        ts=wire.t,
        close_ts=wire.T,
        recv_ts=recv_ts,
        open=decimal_field(wire.o, f"{path}.o", positive=True),
        high=high,
        low=low,
        close=decimal_field(wire.c, f"{path}.c", positive=True),
        volume=decimal_field(wire.v, f"{path}.v", non_negative=True),
        trades=wire.n,
    )


def parse_candle(data: Any, recv_ts: int, path: str = "data") -> Candle:
    """Parse one candle of a ``candle`` frame or a ``candleSnapshot`` row."""
    return _candle(_decode(data, CandleWire, path), recv_ts, path)


def parse_candle_snapshot(data: Any, recv_ts: int) -> list[Candle]:
    """Parse a ``candleSnapshot`` response."""
    rows = _decode(data, list[CandleWire], "response")
    return [_candle(row, recv_ts, f"response[{i}]") for i, row in enumerate(rows)]


def _asset_context(coin: str, ctx: AssetCtxWire, ts: int, recv_ts: int, path: str) -> AssetContext:
    return AssetContext(
        id=f"{coin}:{ts}",
        coin=coin,
        ts=ts,
        recv_ts=recv_ts,
        mark_px=decimal_field(ctx.markPx, f"{path}.markPx", positive=True),
        oracle_px=decimal_field(ctx.oraclePx, f"{path}.oraclePx", positive=True),
        mid_px=_optional_decimal(ctx.midPx, f"{path}.midPx"),
        open_interest=decimal_field(ctx.openInterest, f"{path}.openInterest", non_negative=True),
        funding=decimal_field(ctx.funding, f"{path}.funding"),
        premium=_optional_decimal(ctx.premium, f"{path}.premium"),
        day_ntl_vlm=decimal_field(ctx.dayNtlVlm, f"{path}.dayNtlVlm"),
        prev_day_px=decimal_field(ctx.prevDayPx, f"{path}.prevDayPx"),
    )


def parse_active_asset_ctx(data: Any, recv_ts: int) -> AssetContext:
    """Parse an ``activeAssetCtx`` frame; it carries no time, so ``ts`` is the receive time."""
    wire = _decode(data, ActiveAssetCtxWire, "data")
    return _asset_context(_coin(wire.coin, "data.coin"), wire.ctx, recv_ts, recv_ts, "data.ctx")


def _meta_and_contexts(data: Any) -> tuple[list[MetaAssetWire], list[Any]]:
    pair = _decode(data, list, "response")
    if len(pair) != 2:
        raise ParseError("response", pair, "expected [meta, assetCtxs]")
    return _decode(pair[0], MetaWire, "response[0]").universe, _decode(pair[1], list, "response[1]")


def parse_meta_and_asset_ctxs(data: Any, recv_ts: int) -> list[AssetContext]:
    """Parse a ``metaAndAssetCtxs`` response into one context per listed asset.

    Delisted assets are skipped before their context is read: the exchange
    keeps stale, partly empty contexts for them.
    """
    universe, ctxs = _meta_and_contexts(data)
    if len(universe) != len(ctxs):
        raise ParseError("response[1]", len(ctxs), f"expected {len(universe)} contexts, one per asset")
    out = []
    for i, (asset, ctx) in enumerate(zip(universe, ctxs)):
        if asset.isDelisted:
            continue
        coin = _coin(asset.name, f"response[0].universe[{i}].name")
        path = f"response[1][{i}]"
        out.append(_asset_context(coin, _decode(ctx, AssetCtxWire, path), recv_ts, recv_ts, path))
    return out


def parse_delisted(data: Any, recv_ts: int) -> list[Delisting]:
    """Parse the assets a ``metaAndAssetCtxs`` response marks delisted; meta carries no time, so ``ts`` is the receive time.

    Examples
    --------
    >>> parse_delisted([{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
    ...                               {"name": "OLD", "szDecimals": 0, "maxLeverage": 3, "isDelisted": True}]}, [{}, {}]], 7)
    [Delisting(ts=7, recv_ts=7, id='OLD:delisted', coin='OLD')]
    """
    universe, _ = _meta_and_contexts(data)
    coins = (_coin(asset.name, f"response[0].universe[{i}].name") for i, asset in enumerate(universe) if asset.isDelisted)
    return [Delisting(id=f"{coin}:delisted", coin=coin, ts=recv_ts, recv_ts=recv_ts) for coin in coins]


def parse_funding_history(data: Any, recv_ts: int) -> list[Funding]:
    """Parse a ``fundingHistory`` response.

    The exchange stamps each row a few ms after the hour; the id uses the hour
    so a row seen twice (REST poll and backfill) dedupes.
    """
    out = []
    for i, row in enumerate(_decode(data, list[FundingRowWire], "response")):
        path = f"response[{i}]"
        coin = _coin(row.coin, f"{path}.coin")
        out.append(
            Funding(
                id=f"{coin}:{row.time // HOUR_MS * HOUR_MS}",
                coin=coin,
                ts=row.time,
                recv_ts=recv_ts,
                rate=decimal_field(row.fundingRate, f"{path}.fundingRate"),
                premium=_optional_decimal(row.premium, f"{path}.premium"),
            )
        )
    return out


def parse_user_fees(data: Any, recv_ts: int) -> FeeSchedule:
    """Parse a ``userFees`` response into the effective rates of that user.

    Older responses carry no spot rates at all; those stay ``None`` rather
    than pretending spot trading is free. A user-specific spot rate, when
    present, wins over the schedule's.
    """
    wire = _decode(data, UserFeesWire, "response")
    spot_taker, spot_maker = wire.userSpotCrossRate, wire.userSpotAddRate
    return FeeSchedule(
        id=f"fees:{recv_ts}",
        ts=recv_ts,
        recv_ts=recv_ts,
        taker=decimal_field(wire.userCrossRate, "response.userCrossRate"),
        maker=decimal_field(wire.userAddRate, "response.userAddRate"),
        spot_taker=_optional_decimal(wire.feeSchedule.spotCross if spot_taker is msgspec.UNSET else spot_taker,
                                     "response.userSpotCrossRate"),
        spot_maker=_optional_decimal(wire.feeSchedule.spotAdd if spot_maker is msgspec.UNSET else spot_maker,
                                     "response.userSpotAddRate"),
    )
