"""Turn raw Hyperliquid WebSocket frames into market-data events.

A frame that is not JSON, has no or an unknown channel, or fails parsing is
counted and logged with its raw text by `sources.output.Output.skip`, and
yields nothing; the stream goes on. Control channels (``pong``,
``subscriptionResponse``, the "connected" greeting) are counted only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from pairflow.errors import ParseError
from pairflow.events import AssetContext, Bbo, Candle, Event, L2Book, Trade
from pairflow.hyperliquid import parse
from pairflow.hyperliquid.schemas import WS_CONNECTED_TEXT
from sources.output import Output

__all__ = ["FrameParser"]

_CONTROL = ("pong", "subscriptionResponse")


class FrameParser:
    """Parse frames of the market-data channels.

    Parameters
    ----------
    out
        Counts frames received and skipped.
    book_levels
        Levels per side kept of each L2 book.
    """

    def __init__(self, out: Output, book_levels: int) -> None:
        self.out = out
        self.book_levels = book_levels

    def parse(self, text: str, recv_ts: int) -> tuple[str, list[Event]]:
        """Return the frame's channel and its events (none for control, unknown or malformed frames)."""
        if text == WS_CONNECTED_TEXT:
            self.out.received("connected")
            return "connected", []
        try:
            frame = msgspec.json.decode(text)
        except msgspec.DecodeError:
            self.out.skip("<not json>", text, "frame is not JSON")
            return "<not json>", []
        if not isinstance(frame, dict) or not isinstance(frame.get("channel"), str):
            self.out.skip("<no channel>", text, "frame has no channel")
            return "<no channel>", []
        channel = frame["channel"]
        self.out.received(channel)
        handler = self._handlers.get(channel)
        if handler is None:
            if channel not in _CONTROL:
                self.out.skip(channel, text, "unexpected channel")
            return channel, []
        try:
            return channel, handler(self, frame.get("data"), recv_ts)
        except ParseError as error:
            self.out.skip(channel, text, str(error))
            return channel, []

    def _trades(self, data: Any, recv_ts: int) -> list[Trade]:
        return parse.parse_ws_trades(data, recv_ts)

    def _book(self, data: Any, recv_ts: int) -> list[L2Book]:
        book = parse.parse_l2_book(data, recv_ts)
        levels = self.book_levels
        if len(book.bids) > levels or len(book.asks) > levels:
            book = msgspec.structs.replace(book, bids=book.bids[:levels], asks=book.asks[:levels])
        return [book]

    def _bbo(self, data: Any, recv_ts: int) -> list[Bbo]:
        return [parse.parse_bbo(data, recv_ts)]

    def _candle(self, data: Any, recv_ts: int) -> list[Candle]:
        return [parse.parse_candle(data, recv_ts)]

    def _context(self, data: Any, recv_ts: int) -> list[AssetContext]:
        return [parse.parse_active_asset_ctx(data, recv_ts)]

    _handlers: dict[str, Callable[[FrameParser, Any, int], list[Event]]] = {
        "trades": _trades,
        "l2Book": _book,
        "bbo": _bbo,
        "candle": _candle,
        "activeAssetCtx": _context,
    }
