"""PnL per coin, per spread and for the portfolio, from our fills and funding payments.

Balances move for reasons that are not trading (transfers, another bot on the
same account), so PnL is rebuilt from what we did: every fill, counted once by
its trade id (a replayed or reconciled fill is a no-op), at average-cost
accounting -- the rule the exchange's ``closedPnl`` follows -- plus fees and
funding payments. A fill is attributed to the spread whose order it filled
(``OrderIntent.id`` is the cloid); a funding payment is split across the
spreads holding the coin by their share of its position. A flatten's order
(intent pair `FLATTEN`) closes a whole coin, netted over the spreads holding
it: each of its fills closes the same share of every spread's leg in the coin
(the fill's share of the coin's position) at the fill's price, its fee split
by leg size, so once the coin is flat every spread's leg is flat and the
spreads' realised PnL sums to the coin's. A coin the spreads hold in opposite
directions that nets to nothing gets no order, so no fill closes their legs:
the flatten crosses them against each other at the coin's price
(`PnlLedger.crossing`, a `Cross` the desk journals). A coin no spread holds (a leftover of an unfilled
exit) is closed in the coin and portfolio scopes only.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass

from operators.state import Record
from pairflow.events import AssetContext, Bar, Fill, FundingPayment, OrderIntent, Pnl

__all__ = ["FLATTEN", "Book", "Cross", "PnlLedger"]

FLATTEN = "*"
"""The pair of a flatten's orders: each closes a whole coin for every spread holding it."""


class Cross(Record):
    """A flatten's cross of offsetting spread legs: ``legs`` (pair -> coin -> size crossed) closed at ``marks``.

    No fill of the exchange's shows it, so the spread journal keeps it for a restart, which applies
    it once (``id``) after the fills up to ``after_fill_ms`` it was made on.
    """

    id: str
    ts: int
    after_fill_ms: int
    marks: dict[str, float]
    legs: dict[str, dict[str, float]]


@dataclass(slots=True)
class Book:
    """One signed position at average cost, its realised PnL, fees and funding."""

    szi: float = 0.0
    entry: float = 0.0
    realized: float = 0.0
    fees: float = 0.0
    funding: float = 0.0

    def trade(self, signed_sz: float, px: float) -> float:
        """Apply a signed fill at ``px``; return the PnL it realised (closing part only, before fees)."""
        realized = 0.0
        if self.szi == 0 or (self.szi > 0) == (signed_sz > 0):
            total = abs(self.szi) + abs(signed_sz)
            self.entry = (abs(self.szi) * self.entry + abs(signed_sz) * px) / total
        else:
            closed = min(abs(signed_sz), abs(self.szi))
            realized = closed * (px - self.entry) * math.copysign(1.0, self.szi)
            if abs(signed_sz) > abs(self.szi):
                self.entry = px
        self.szi = round(self.szi + signed_sz, 10)
        if self.szi == 0:
            self.entry = 0.0
        self.realized += realized
        return realized

    def unrealized(self, mark: float | None) -> float:
        """Return the open position's PnL at ``mark`` (0 without a mark)."""
        return 0.0 if mark is None or self.szi == 0 else self.szi * (mark - self.entry)


class PnlLedger:
    """Fold fills, funding payments and marks into `Pnl` events per coin, per spread and for the portfolio.

    Examples
    --------
    >>> ledger = PnlLedger()
    >>> _ = ledger.update(OrderIntent(ts=0, id="c1", coin="ETH", pair="ETH/BTC", is_buy=True, sz=1.0, limit_px=2000.0))
    >>> buy = Fill(ts=1, id="t1", coin="ETH", oid=1, cloid="c1", px=2000.0, sz=1.0, side="B", fee=0.5, closed_pnl=0.0, crossed=True)
    >>> sell = Fill(ts=2, id="t2", coin="ETH", oid=2, cloid="c1", px=2010.0, sz=1.0, side="A", fee=0.5, closed_pnl=10.0, crossed=True)
    >>> _ = ledger.update(buy); [(p.scope, p.realized_pnl, p.equity) for p in ledger.update(sell)]
    [('portfolio', 10.0, 9.0), ('coin:ETH', 10.0, 9.0), ('spread:ETH/BTC', 10.0, 9.0)]
    >>> ledger.update(sell)
    []
    """

    def __init__(self) -> None:
        self.coins: dict[str, Book] = {}
        self.spreads: dict[str, dict[str, Book]] = {}
        self.marks: dict[str, float] = {}
        self._pair_of: dict[str, str] = {}
        self._seen: set[str] = set()

    def update(self, event: OrderIntent | Fill | FundingPayment | AssetContext | Bar) -> list[Pnl]:
        """Apply one event; return the `Pnl` of every scope it changed."""
        if isinstance(event, OrderIntent):
            self._pair_of[event.id] = event.pair
            return []
        if isinstance(event, (AssetContext, Bar)):
            self.marks[event.coin] = event.mark_px if isinstance(event, AssetContext) else event.close
            return []
        if event.id in self._seen:
            return []
        self._seen.add(event.id)
        if isinstance(event, Fill):
            return self._fill(event)
        return self._funding(event)

    def _fill(self, fill: Fill) -> list[Pnl]:
        signed = fill.sz if fill.side == "B" else -fill.sz
        book = self.coins.setdefault(fill.coin, Book())
        held = book.szi
        book.trade(signed, fill.px)
        book.fees += fill.fee
        pair = self._pair_of.get(fill.cloid, "")
        if pair == FLATTEN:
            return self._flatten_fill(fill, signed, held)
        if pair:
            leg = self.spreads.setdefault(pair, {}).setdefault(fill.coin, Book())
            leg.trade(signed, fill.px)
            leg.fees += fill.fee
        return self._report(fill.ts, fill.coin, pair)

    def _flatten_fill(self, fill: Fill, signed: float, held: float) -> list[Pnl]:
        """Close the fill's share of the coin's position (all of it once the coin is flat) in every spread's leg."""
        legs = {pair: legs[fill.coin] for pair, legs in self.spreads.items()
                if fill.coin in legs and legs[fill.coin].szi != 0}
        out = self._report(fill.ts, fill.coin, "")
        if not legs or held == 0 or (held > 0) == (signed > 0):
            return out
        share = 1.0 if self.coins[fill.coin].szi == 0 else min(1.0, abs(signed) / abs(held))
        total = sum(abs(leg.szi) for leg in legs.values())
        for pair in sorted(legs):
            leg = legs[pair]
            leg.fees += fill.fee * abs(leg.szi) / total
            leg.trade(-leg.szi if share == 1.0 else -leg.szi * share, fill.px)
            out.extend(self._scope(fill.ts, f"spread:{pair}", list(self.spreads[pair].items())))
        return out

    def crossing(self, ts: int, marks: Mapping[str, float], cross_id: str, after_fill_ms: int = 0) -> Cross | None:
        """Return the cross that closes the spreads' legs in each coin held net of nothing, at its mark; None if none.

        The legs offset (they sum to the coin's position, nothing), so crossing them is internal: no
        order, no fee, the coin's book unchanged, and the spreads realise between them what the coin
        did. A coin held is left to the flatten's fills; one without a mark cannot be priced and stays.
        Nothing changes here: the desk journals the cross before `cross` applies it, since no fill
        of the exchange's will ever show it to a restart.
        """
        legs: dict[str, dict[str, float]] = {}
        for coin, book in self.coins.items():
            if book.szi or coin not in marks:
                continue
            for pair, held in self.spreads.items():
                leg = held.get(coin)
                if leg is not None and leg.szi:
                    legs.setdefault(pair, {})[coin] = leg.szi
        if not legs:
            return None
        coins = {coin for held in legs.values() for coin in held}
        return Cross(cross_id, ts, after_fill_ms, {coin: marks[coin] for coin in sorted(coins)}, legs)

    def cross(self, cross: Cross) -> list[Pnl]:
        """Close ``cross``'s legs at its marks, once per id (a restart's replay of it is a no-op); return their scopes.

        Examples
        --------
        >>> ledger = PnlLedger()
        >>> for pair, side, px in (("A/B", "B", 100.0), ("A/C", "A", 110.0)):
        ...     _ = ledger.update(OrderIntent(ts=0, id=pair, coin="A", pair=pair, is_buy=side == "B", sz=1.0, limit_px=px))
        ...     _ = ledger.update(Fill(ts=1, id=pair, coin="A", oid=1, cloid=pair, px=px, sz=1.0, side=side, fee=0.0,
        ...                            closed_pnl=0.0, crossed=True))
        >>> crossing = ledger.crossing(2, {"A": 104.0}, "x1")
        >>> [(p.scope, p.realized_pnl) for p in ledger.cross(crossing)], ledger.cross(crossing)
        ([('spread:A/B', 4.0), ('spread:A/C', 6.0)], [])
        >>> ledger.coins["A"].realized, [legs["A"].szi for legs in ledger.spreads.values()]
        (10.0, [0.0, 0.0])
        """
        if cross.id in self._seen:
            return []
        self._seen.add(cross.id)
        for pair, held in cross.legs.items():
            for coin, szi in held.items():
                self.spreads.setdefault(pair, {}).setdefault(coin, Book()).trade(-szi, cross.marks[coin])
        return [pnl for pair in sorted(cross.legs)
                for pnl in self._scope(cross.ts, f"spread:{pair}", list(self.spreads[pair].items()))]

    def _funding(self, payment: FundingPayment) -> list[Pnl]:
        self.coins.setdefault(payment.coin, Book()).funding += payment.usdc
        holders = {pair: legs[payment.coin] for pair, legs in self.spreads.items()
                   if payment.coin in legs and legs[payment.coin].szi != 0}
        total = sum(abs(leg.szi) for leg in holders.values())
        for leg in holders.values():
            leg.funding += payment.usdc * abs(leg.szi) / total
        out = self._report(payment.ts, payment.coin, "")
        for pair in sorted(holders):
            out.extend(self._scope(payment.ts, f"spread:{pair}", list(self.spreads[pair].items())))
        return out

    def _report(self, ts: int, coin: str, pair: str) -> list[Pnl]:
        out = [self._scope(ts, "portfolio", list(self.coins.items()))[0],
               self._scope(ts, f"coin:{coin}", [(coin, self.coins[coin])])[0]]
        if pair:
            out.extend(self._scope(ts, f"spread:{pair}", list(self.spreads[pair].items())))
        return out

    def _scope(self, ts: int, scope: str, books: list[tuple[str, Book]]) -> list[Pnl]:
        realized = sum(book.realized for _, book in books)
        unrealized = sum(book.unrealized(self.marks.get(coin)) for coin, book in books)
        fees = sum(book.fees for _, book in books)
        funding = sum(book.funding for _, book in books)
        return [Pnl(ts=ts, id=f"{scope}@{ts}", scope=scope, realized_pnl=realized, unrealized_pnl=unrealized,
                    fees=fees, funding=funding, equity=realized + unrealized - fees + funding)]

    def snapshot(self) -> bytes:
        """Return the books, marks, cloid-to-spread map and counted ids as pickled bytes."""
        return pickle.dumps((self.coins, self.spreads, self.marks, self._pair_of, self._seen))

    @classmethod
    def restore(cls, state: bytes) -> PnlLedger:
        """Rebuild from `snapshot` output."""
        ledger = cls()
        ledger.coins, ledger.spreads, ledger.marks, ledger._pair_of, ledger._seen = pickle.loads(state)
        return ledger
