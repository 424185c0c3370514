"""Account for market data that was missed, and decide whether each coin's trade gap was filled.

A WebSocket outage (or a collector that was not running) loses books and
contexts for good (Hyperliquid keeps no REST history of them), while candles
and funding can be fetched again. Trades have no REST history either, but the
venue replays its most recent trades on subscribe: `trade_gap` decides whether
that replay covers the outage. Every missed span becomes a
`pairflow.events.Gap` on ``md.gaps`` (the ingest flow stores it in the
``gaps`` table and marks the bars it overlaps incomplete), so analysts and
backtests can exclude (or trust) that window. `GapTracker` keeps the state
this needs: the last trades emitted per coin and the outages awaiting their
replay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from pairflow.events import Gap, Trade
from pairflow.logs import get_logger
from pairflow.metrics import COLLECTOR_GAPS
from sources.output import Output

__all__ = ["REPLAY_COVERS", "UNFILLABLE_STREAMS", "GapTracker", "LastTrade", "TradeGap", "newest", "trade_gap"]

UNFILLABLE_STREAMS = ("l2Book", "bbo", "activeAssetCtx")
REPLAY_COVERS = "covered by the trades replayed on resubscribe"

_log = get_logger(__name__)


class LastTrade(NamedTuple):
    """The newest trade time emitted before a drop and the ids of every trade emitted at that time."""

    ts: int
    ids: frozenset[str]


def newest(*found: Mapping[str, LastTrade]) -> dict[str, LastTrade]:
    """Merge per-coin last trades, keeping the newest time per coin (and every id at that time).

    Examples
    --------
    >>> newest({"BTC": LastTrade(5, frozenset({"a"}))}, {"BTC": LastTrade(5, frozenset({"b"}))},
    ...        {"ETH": LastTrade(1, frozenset({"c"}))})["BTC"].ids == {"a", "b"}
    True
    """
    merged: dict[str, LastTrade] = {}
    for last_trades in found:
        for coin, last in last_trades.items():
            known = merged.get(coin)
            if known is None or last.ts > known.ts:
                merged[coin] = last
            elif last.ts == known.ts:
                merged[coin] = LastTrade(last.ts, known.ids | last.ids)
    return merged


class TradeGap(NamedTuple):
    """The trade gap of one outage: its span, whether the replay filled it, and why."""

    start_ts: int
    end_ts: int
    filled: bool
    reason: str


def trade_gap(outage_start: int, outage_end: int, last: LastTrade | None, replay: Sequence[Trade] | None) -> TradeGap:
    """Decide whether the trades replayed on resubscribe cover an outage, and which span they miss.

    The venue replays its most recent trades, so a replay holds every trade
    from its oldest one up to the resubscription. It covers the outage when it
    reaches back into what was already emitted: a replayed trade older than
    ``last``, or one of ``last.ids`` at its time. With no trade emitted before
    the drop (an idle coin) it must start before ``outage_start`` instead —
    strictly, since a trade in that very millisecond may have been lost.
    Trades are matched by id, not by time alone, because several trades can
    share a millisecond and the replay may begin among them.

    Parameters
    ----------
    outage_start, outage_end
        Time of the last frame before the drop and of the resubscription (ms).
    last
        The last trades emitted before the drop, or None when the coin had none.
    replay
        The trades of the coin's first ``trades`` frame after resubscribing,
        or None when none arrived in time.

    Returns
    -------
    TradeGap
        Filled over ``[outage_start, outage_end]`` when covered. Otherwise
        unfilled from the outage start (from ``last.ts`` when the replay
        begins even earlier, which a trade lost in flight causes) to the oldest
        replayed trade's time, inclusive because trades sharing that
        millisecond but preceding it were not replayed; over the whole outage
        when nothing was replayed.
    """
    if not replay:
        return TradeGap(outage_start, outage_end, False, "no trades replayed on resubscribe")
    oldest = min(trade.ts for trade in replay)
    if last is None:
        covered = oldest < outage_start
    else:
        covered = any(trade.ts < last.ts or (trade.ts == last.ts and trade.id in last.ids) for trade in replay)
    if covered:
        return TradeGap(outage_start, outage_end, True, REPLAY_COVERS)
    start = outage_start if last is None or oldest >= outage_start else last.ts
    reason = f"trades replayed on resubscribe reach back only to {oldest} ({len(replay)} replayed)"
    return TradeGap(start, oldest, False, reason)


class _AwaitedReplay(NamedTuple):
    start: int
    last: LastTrade | None


class GapTracker:
    """Record gaps, and settle each coin's trade gap once its replayed trades arrive.

    It also drops trades that were already emitted (the replay repeats them),
    so it is the one place that knows each coin's last emitted trades.

    Parameters
    ----------
    out
        Where `Gap` events go (``md.gaps``).
    clock
        Millisecond clock stamping when a gap was recorded.
    exchange_now
        The newest exchange time received: where a trade gap settled now ends.
    """

    def __init__(self, out: Output, clock: Callable[[], int], exchange_now: Callable[[], int]) -> None:
        self.out = out
        self.clock = clock
        self.exchange_now = exchange_now
        self._last: dict[str, tuple[int, set[str]]] = {}
        self._awaiting: dict[str, _AwaitedReplay] = {}

    @property
    def awaiting_replay(self) -> bool:
        """Return whether some coin's trade gap still waits for its replayed trades."""
        return bool(self._awaiting)

    def resume(self, coin: str, last: LastTrade) -> None:
        """Take ``last`` as the newest trades of ``coin`` already emitted (by an earlier run)."""
        self._last[coin] = (last.ts, set(last.ids))

    def last_trade(self, coin: str) -> LastTrade | None:
        """Return the newest trades of ``coin`` emitted so far, or None."""
        seen = self._last.get(coin)
        return None if seen is None else LastTrade(seen[0], frozenset(seen[1]))

    def record(self, coin: str, stream: str, start_ts: int, end_ts: int, filled: bool, reason: str = "") -> Gap:
        """Build the gap of ``stream`` of ``coin`` over ``[start_ts, end_ts]`` and emit it on ``md.gaps``."""
        now = self.clock()
        gap = Gap(
            id=f"{coin}:{stream}:{start_ts}",
            coin=coin,
            stream=stream,
            start_ts=start_ts,
            end_ts=end_ts,
            filled=filled,
            reason=reason,
            ts=now,
            recv_ts=now,
        )
        COLLECTOR_GAPS.labels(stream, str(filled).lower()).inc()
        _log.warning(
            "market data gap", coin=coin, stream=stream, start_ts=start_ts, end_ts=end_ts, filled=filled, reason=reason
        )
        self.out.emit(gap)
        return gap

    def expect_replay(self, coin: str, start_ms: int) -> None:
        """Note a hole in ``coin``'s trades from ``start_ms``; the coin's next ``trades`` frame settles it.

        The gap then ends at the newest exchange time received. A coin still
        awaiting the replay of an earlier hole keeps that hole's start and
        last trades: back-to-back outages make one gap.
        """
        if coin not in self._awaiting:
            self._awaiting[coin] = _AwaitedReplay(start_ms, self.last_trade(coin))

    def fresh(self, trades: list[Trade]) -> list[Trade]:
        """Settle the trade gaps these trades answer and return those not emitted before, in order."""
        for coin in {trade.coin for trade in trades} & self._awaiting.keys():
            self._settle(coin, [trade for trade in trades if trade.coin == coin])
        fresh = []
        for trade in trades:
            last_ts, ids_at_last = self._last.get(trade.coin, (-1, set()))
            if trade.ts < last_ts or (trade.ts == last_ts and trade.id in ids_at_last):
                continue
            if trade.ts > last_ts:
                ids_at_last = set()
                self._last[trade.coin] = (trade.ts, ids_at_last)
            ids_at_last.add(trade.id)
            fresh.append(trade)
        return fresh

    def settle_unreplayed(self) -> None:
        """Record every trade gap still awaiting its replay as unfilled over its whole outage."""
        for coin in list(self._awaiting):
            self._settle(coin, None)

    def _settle(self, coin: str, replay: list[Trade] | None) -> None:
        awaited = self._awaiting.pop(coin)
        end = max(awaited.start, self.exchange_now())
        gap = trade_gap(awaited.start, end, awaited.last, replay)
        self.record(coin, "trades", gap.start_ts, gap.end_ts, gap.filled, gap.reason)
