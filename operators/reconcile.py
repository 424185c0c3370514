"""Reconciliation as a pure function: what we hold against what the exchange says.

After a start or a reconnect the router cannot trust what it remembers: an
order may have filled while we were away, a fill may have been missed.
`pairflow.hyperliquid.user_parse` turns the REST snapshots into the events
live trading emits (fills keep their trade id, so the idempotent ledgers
count a fill seen twice once); `mismatches` names every difference between
our books and the exchange's, which blocks new entries until resolved. Fills
on the account that no order of ours explains (an operator's manual trade,
another bot on the same key) are counted in; the desk names what they left
open as ``outside`` so they block entries too, until undone or flattened.
"""

from __future__ import annotations

from collections.abc import Mapping

from pairflow.events import Order, Position

__all__ = ["mismatches"]


def mismatches(local_positions: Mapping[str, float], remote: list[Position],
               local_open: set[str], remote_orders: list[Order], tolerance: float = 1e-9,
               outside: Mapping[str, float] | None = None) -> list[str]:
    """Name every difference between our books and the exchange's (empty when they agree).

    ``outside`` is the signed size per coin that fills of no order of ours left on the account.

    Examples
    --------
    >>> remote = [Position(ts=1, id="p", coin="ETH", szi=1.5, entry_px=1.0, mark_px=1.0, unrealized_pnl=0.0,
    ...                    margin_used=0.0, leverage=1.0)]
    >>> mismatches({"ETH": 1.5}, remote, set(), []), mismatches({"ETH": 1.0, "BTC": 0.1}, remote, {"0xab"}, [])
    ([], ['position BTC: ours 0.1, exchange 0', 'position ETH: ours 1.0, exchange 1.5', 'order 0xab: ours open, not on the exchange'])
    >>> mismatches({"ETH": 1.5}, remote, set(), [], outside={"ETH": 0.5, "BTC": 0.0})
    ['position ETH: 0.5 traded outside pairflow']
    """
    theirs = {p.coin: p.szi for p in remote}
    out = [f"position {coin}: ours {local_positions.get(coin, 0.0)!r}, exchange {theirs.get(coin, 0)!r}"
           for coin in sorted(set(theirs) | set(local_positions))
           if abs(local_positions.get(coin, 0.0) - theirs.get(coin, 0.0)) > tolerance]
    remote_cloids = {order.cloid for order in remote_orders if order.cloid}
    out += [f"position {coin}: {size!r} traded outside pairflow"
            for coin, size in sorted((outside or {}).items()) if abs(size) > tolerance]
    out += [f"order {cloid}: ours open, not on the exchange" for cloid in sorted(local_open - remote_cloids)]
    out += [f"order {cloid}: on the exchange, not ours" for cloid in sorted(remote_cloids - local_open)]
    return out
