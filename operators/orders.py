"""Order identity and lifecycle: deterministic cloids and a state machine with UNKNOWN.

A cloid is a hash of the signal id and the leg's coin, so a signal replayed
after a restart (at-least-once delivery) maps to the order already sent and
the exchange refuses the duplicate. UNKNOWN is where an order goes when its
request timed out: only a status query by cloid may move it on (to resting,
filled, canceled, or ``rejected`` when the exchange never saw it), never a
blind resend. Filled size is tracked per order from fills, each fill counted
once by its trade id.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import NamedTuple

from pairflow.events import Fill, Order

__all__ = ["CLOCK_SKEW_MS", "STATES", "TERMINAL", "OrderTracker", "Resend", "can_move", "cloid_for", "may_resend"]

STATES = ("pending", "open", "partial", "filled", "canceled", "rejected", "unknown")
TERMINAL = frozenset({"filled", "canceled", "rejected"})
_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"open", "partial", "filled", "canceled", "rejected", "unknown"}),
    "unknown": frozenset({"open", "partial", "filled", "canceled", "rejected"}),
    "open": frozenset({"partial", "filled", "canceled", "unknown"}),
    "partial": frozenset({"partial", "filled", "canceled", "unknown"}),
}


def cloid_for(signal_id: str, coin: str) -> str:
    """Return the 16-byte client order id of ``coin``'s leg of ``signal_id`` (``0x`` + 32 hex digits).

    Examples
    --------
    >>> cloid_for("sig-1", "ETH") == cloid_for("sig-1", "ETH"), cloid_for("sig-1", "ETH") == cloid_for("sig-1", "BTC")
    (True, False)
    >>> len(cloid_for("sig-1", "ETH"))
    34
    """
    return "0x" + hashlib.sha256(f"{signal_id}\x00{coin}".encode()).hexdigest()[:32]


CLOCK_SKEW_MS = 1_000
"""How far the host's clock may be from the exchange's: a restart asks again this long after an order's expiry."""


class Resend(NamedTuple):
    """Whether a journaled order the exchange may not have may go out again: ``send``, ``keep`` or ``wait``.

    ``ask_at_ms`` (with ``wait``) is when, on the clock the order's expiry was stamped with, to ask again.
    """

    verdict: str
    ask_at_ms: int = 0


def may_resend(answer: str | None, expires_ms: int | None, asked_ms: int, skew_ms: int = CLOCK_SKEW_MS) -> Resend:
    """Decide whether a journaled cloid goes out again, from the exchange's answer to ``orderStatus`` by that cloid.

    The journal is written before the send, so a journaled cloid may never have left (killed in
    between) -- or may still be on its way: a request delayed in the network reaches the exchange
    whenever it does, and a copy sent again would make two orders. Every order carries
    ``expiresAfter`` (journaled as ``expires_ms``), after which the exchange refuses it, so an
    ``unknownOid`` answer (``answer``) proves the order dead only when it was asked for after that
    time, with ``skew_ms`` to spare for the host's clock (``asked_ms`` is read before the query).
    Asked earlier, ``wait`` says when to ask again. ``keep`` (never sent again): the exchange has
    the order, gave no answer (None), or the order carried no expiry (a journal line from before
    expiries), so a late copy could still land at any time.

    Examples
    --------
    >>> may_resend("unknownOid", 10_000, asked_ms=11_001)
    Resend(verdict='send', ask_at_ms=0)
    >>> may_resend("unknownOid", 10_000, asked_ms=10_500)
    Resend(verdict='wait', ask_at_ms=11001)
    >>> may_resend("filled", 10_000, asked_ms=20_000), may_resend(None, 10_000, 20_000).verdict
    (Resend(verdict='keep', ask_at_ms=0), 'keep')
    """
    if answer != "unknownOid" or expires_ms is None:
        return Resend("keep")
    if asked_ms > expires_ms + skew_ms:
        return Resend("send")
    return Resend("wait", expires_ms + skew_ms + 1)


def can_move(current: str, new: str) -> bool:
    """Tell whether an order may go from state ``current`` to ``new`` (terminal states never move).

    Examples
    --------
    >>> can_move("pending", "unknown"), can_move("unknown", "pending"), can_move("filled", "open")
    (True, False, False)
    """
    return new in _MOVES.get(current, frozenset())


class OrderTracker:
    """Every order we placed, by cloid, moved only along legal transitions; fills counted once.

    ``update`` takes an `Order` (a status report: our own, the user stream's or a
    reconciliation's) or a `Fill`, and returns the `Order` records that changed.
    A status report carries the exchange's *cumulative* filled size while a fill
    is an *increment*: the two are kept apart and an order's ``filled_sz`` is
    the larger of the last report and the sum of its distinct fills, so an order
    seen filled by its placement answer and then by its fills (REST pull or user
    stream, in any order, any number of times) still reads ``filled_sz == sz``.
    Every record it returns has a ``recv_ts`` above the order's previous one,
    because the ``orders`` table keeps the record with the highest.

    Examples
    --------
    >>> tracker = OrderTracker()
    >>> placed = Order(ts=1, id="c1", coin="ETH", cloid="c1", oid=None, is_buy=True, sz=2.0, limit_px=2000.0, status="pending")
    >>> [o.status for o in tracker.update(placed)]
    ['pending']
    >>> fill = Fill(ts=2, id="t1", coin="ETH", oid=7, cloid="c1", px=2000.0, sz=0.5, side="B", fee=0.1, closed_pnl=0.0, crossed=True)
    >>> [(o.status, o.filled_sz) for o in tracker.update(fill)], tracker.update(fill)
    ([('partial', 0.5)], [])
    >>> report = Order(ts=3, id="c1", coin="ETH", cloid="c1", oid=7, is_buy=True, sz=2.0, limit_px=2000.0,
    ...                status="filled", filled_sz=2.0, avg_px=2000.0)
    >>> rest = Fill(ts=3, id="t2", coin="ETH", oid=7, cloid="c1", px=2000.0, sz=1.5, side="B", fee=0.3, closed_pnl=0.0, crossed=True)
    >>> [(o.status, o.filled_sz) for o in tracker.update(report)], tracker.update(rest)
    ([('filled', 2.0)], [])
    """

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self._fills: set[str] = set()
        self._filled: dict[str, float] = {}
        self._cost: dict[str, float] = {}

    def update(self, event: Order | Fill) -> list[Order]:
        """Apply a status report or a fill; return the changed order (empty when nothing moved)."""
        if isinstance(event, Fill):
            return self._fill(event)
        known = self.orders.get(event.cloid)
        if known is None:
            self.orders[event.cloid] = event
            return [event]
        status = event.status if can_move(known.status, event.status) else known.status
        filled = max(known.filled_sz, event.filled_sz)
        if known.avg_px is not None and self._filled.get(event.cloid, 0.0) >= filled - 1e-12:
            avg_px = known.avg_px  # the fills' average is exact; a report's may be rounded
        else:
            avg_px = event.avg_px if event.avg_px is not None else known.avg_px
        return self._move(known, event.ts, event.recv_ts, status, filled, avg_px,
                          known.oid if known.oid is not None else event.oid,
                          event.reason if status != known.status else known.reason)

    def _fill(self, fill: Fill) -> list[Order]:
        known = self.orders.get(fill.cloid)
        if fill.id in self._fills or known is None:
            return []
        self._fills.add(fill.id)
        by_fills = self._filled[fill.cloid] = round(self._filled.get(fill.cloid, 0.0) + fill.sz, 10)
        self._cost[fill.cloid] = self._cost.get(fill.cloid, 0.0) + fill.px * fill.sz
        filled = max(known.filled_sz, by_fills)
        status = known.status
        if known.status not in TERMINAL or known.status == "filled":
            # a fill that raced a cancel is counted, and the final state stays
            status = "filled" if filled >= known.sz - 1e-12 else "partial"
        avg_px = self._cost[fill.cloid] / by_fills if by_fills >= filled - 1e-12 or known.avg_px is None \
            else known.avg_px
        return self._move(known, fill.ts, fill.recv_ts, status, filled, avg_px,
                          known.oid if known.oid is not None else fill.oid, known.reason)

    def _move(self, known: Order, ts: int, recv_ts: int, status: str, filled: float, avg_px: float | None,
              oid: int | None, reason: str) -> list[Order]:
        if (status, filled, avg_px, oid) == (known.status, known.filled_sz, known.avg_px, known.oid):
            return []
        moved = Order(ts=max(ts, known.ts), recv_ts=max(recv_ts, known.recv_ts + 1), id=known.id, coin=known.coin,
                      cloid=known.cloid, oid=oid, is_buy=known.is_buy, sz=known.sz, limit_px=known.limit_px,
                      status=status, filled_sz=filled, avg_px=avg_px, reason=reason)
        self.orders[known.cloid] = moved
        return [moved]

    def awaiting_fills(self, cloids: list[str]) -> list[str]:
        """Return those of ``cloids`` whose reported filled size is more than their fills counted so far."""
        return [cloid for cloid in cloids if cloid in self.orders
                and self.orders[cloid].filled_sz > self._filled.get(cloid, 0.0) + 1e-12]

    def open_cloids(self) -> list[str]:
        """Return the cloids of orders not yet in a terminal state (pending, open, partial, unknown)."""
        return [cloid for cloid, order in self.orders.items() if order.status not in TERMINAL]

    def snapshot(self) -> bytes:
        """Return orders, counted fill ids, filled sizes and fill costs as pickled bytes."""
        return pickle.dumps((self.orders, self._fills, self._filled, self._cost))

    @classmethod
    def restore(cls, state: bytes) -> OrderTracker:
        """Rebuild from `snapshot` output."""
        tracker = cls()
        tracker.orders, tracker._fills, tracker._filled, tracker._cost = pickle.loads(state)
        return tracker
