"""Spread targets to per-coin net targets, and each spread's legs rounded together.

Several spreads may hold the same coin (ETH against BTC and against SOL);
the exchange holds one position per coin, so the router trades the *net*
target of every coin, not each spread's legs. A spread's legs are rounded as
one: the leg with the smaller notional is truncated to its lot first and the
other legs scale with it, so the hedge ratio survives rounding, and a spread
whose smaller leg is under the $10 minimum is refused whole (never one leg).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from decimal import Decimal

from operators.order_rules import MIN_NOTIONAL, AssetRules
from operators.state import Record

__all__ = ["MAX_LEG_SIZE", "CoinTarget", "NetTargets", "SpreadTarget", "order_to_target", "size_spread"]

# The largest leg, in coins, that rounds to the exchange's lots exactly: beyond 2**53 a float no longer holds
# whole coins, and rounding raised (a notional of 1e300 in the config, a record on pf.signals).
MAX_LEG_SIZE = float(2**53)


class SpreadTarget(Record):
    """One spread's wanted position: signed coin size per leg (all zero = flat)."""

    pair: str
    signal_id: str
    ts: int
    coins: tuple[str, ...]
    sizes: tuple[float, ...]


class CoinTarget(Record):
    """The wanted net position of one coin across every spread, and the signal that moved it."""

    coin: str
    target: float
    signal_id: str
    pair: str
    ts: int


def size_spread(
    coins: Sequence[str], sizes: Sequence[float], prices: Mapping[str, float], rules: AssetRules
) -> tuple[tuple[float, ...], str]:
    """Round a spread's signed leg sizes together; return ``(sizes, "")`` or ``((), reason)``.

    Examples
    --------
    >>> rules = AssetRules({"BTC": 5, "ETH": 4})
    >>> size_spread(("ETH", "BTC"), (1.23456, -0.0617283), {"ETH": 2000.0, "BTC": 40000.0}, rules)
    ((1.2345, -0.06172), '')
    >>> size_spread(("ETH", "BTC"), (0.004, -0.0002), {"ETH": 2000.0, "BTC": 40000.0}, rules)
    ((), 'min_notional: ETH leg 8.00 USDC after rounding is under the 10 USDC minimum')
    >>> size_spread(("ETH", "BTC"), (0.0, 0.0), {"ETH": 2000.0, "BTC": 40000.0}, rules)
    ((0.0, 0.0), '')
    >>> size_spread(("ETH", "BTC"), (1e300, -1.0), {"ETH": 2000.0, "BTC": 40000.0}, rules)
    ((), 'size: ETH leg 1e+300 coins cannot be ordered')
    """
    for coin, size in zip(coins, sizes, strict=True):
        if not -MAX_LEG_SIZE < size < MAX_LEG_SIZE:
            return (), f"size: {coin} leg {size!r} coins cannot be ordered"
    if all(size == 0 for size in sizes):
        return tuple(0.0 for _ in sizes), ""
    notionals = [abs(size) * prices[coin] for coin, size in zip(coins, sizes, strict=True)]
    smallest = min(range(len(coins)), key=notionals.__getitem__)
    anchor = rules.size(coins[smallest], sizes[smallest])
    if anchor == 0:
        return (), f"rounding: {coins[smallest]} leg {abs(sizes[smallest])!r} rounds to zero"
    rounded = []
    for coin, size in zip(coins, sizes, strict=True):
        lot = rules.size(coin, _scaled(size, anchor, sizes[smallest]))
        if lot * prices[coin] < MIN_NOTIONAL:
            return (), (f"min_notional: {coin} leg {lot * prices[coin]:.2f} USDC after rounding "
                        f"is under the {MIN_NOTIONAL:.0f} USDC minimum")
        rounded.append(lot if size > 0 else -lot)
    return tuple(rounded), ""


def _scaled(size: float, anchor: float, smallest: float) -> float:
    """Return ``size * anchor / |smallest|`` computed in decimal, then rounded once to a float.

    In binary floating point the product can land a hair under a whole lot (2.48 scaled to 2
    gave 1.9999999999999998), and truncation onto the lot then drops a whole lot from a leg:
    the smallest leg came out as 1 coin instead of 2 and the hedge ratio was off by half.
    """
    exact = Decimal(repr(size)) * Decimal(repr(anchor)) / abs(Decimal(repr(smallest)))
    return float(exact)


def order_to_target(target: float, held: float, outside: float = 0.0) -> tuple[float, bool]:
    """Return the signed size that brings our part of a coin to ``target``, and whether the order is reduce-only.

    ``held`` is the account's whole position in the coin; ``outside`` the part of it
    fills of no order of ours made (an operator's manual trade). Only our part is
    moved to the net target, so an exit closes what the spreads hold and leaves the
    operator's trade alone; reduce-only is judged on the whole position, as the
    exchange judges it (a sell that closes our long while the operator is short
    grows the account's short and must not be reduce-only).

    Examples
    --------
    >>> order_to_target(0.0, 2.0, outside=0.5)   # exit a 1.5 long while the operator holds 0.5 more
    (-1.5, True)
    >>> order_to_target(0.0, -1.75, outside=-2.0)  # our 0.25 long under the operator's 2.0 short
    (-0.25, False)
    >>> order_to_target(1.0, 0.0)
    (1.0, False)
    """
    # Sizes have at most 8 decimals; rounding drops the float noise of the subtraction (0.6 - 0.5 is
    # 0.0999...), which the lot rounding downstream would otherwise truncate a whole lot below.
    ours = round(held - outside, 9) if outside else held
    delta = target - ours
    after = held + delta
    return delta, abs(after) < abs(held) and after * held >= 0


class NetTargets:
    """Hold every spread's legs and emit a coin's net target whenever it changes.

    Examples
    --------
    >>> net = NetTargets()
    >>> [t.target for t in net.update(SpreadTarget("ETH/BTC", "s1", 1, ("ETH", "BTC"), (1.0, -0.05)))]
    [1.0, -0.05]
    >>> [(t.coin, t.target) for t in net.update(SpreadTarget("ETH/SOL", "s2", 2, ("ETH", "SOL"), (-1.0, 20.0)))]
    [('ETH', 0.0), ('SOL', 20.0)]
    """

    def __init__(self) -> None:
        self._legs: dict[str, dict[str, float]] = {}

    def legs(self, pair: str) -> dict[str, float]:
        """Return a copy of one spread's current legs (empty when it holds none)."""
        return dict(self._legs.get(pair, {}))

    def net(self, coin: str) -> float:
        """Return the summed target of ``coin`` over every spread."""
        return round(sum(legs.get(coin, 0.0) for legs in self._legs.values()), 10)

    def update(self, target: SpreadTarget) -> list[CoinTarget]:
        """Replace one spread's legs; return the coins whose net target moved."""
        old = self._legs.get(target.pair, {})
        before = {coin: self.net(coin) for coin in set(old) | set(target.coins)}
        self._legs[target.pair] = dict(zip(target.coins, target.sizes, strict=True))
        return [CoinTarget(coin, self.net(coin), target.signal_id, target.pair, target.ts)
                for coin in sorted(before, key=lambda c: (c not in target.coins, target.coins.index(c)
                                                          if c in target.coins else 0, c))
                if self.net(coin) != before[coin]]

    def snapshot(self) -> bytes:
        """Return the per-spread legs as pickled bytes (an immutable copy)."""
        return pickle.dumps(self._legs)

    @classmethod
    def restore(cls, state: bytes) -> NetTargets:
        """Rebuild from `snapshot` output."""
        net = cls()
        net._legs = pickle.loads(state)
        return net
