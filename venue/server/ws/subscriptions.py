"""Who is subscribed to what: routing keys, per-connection subscriptions and the per-IP and per-user caps.

A routing key is a tuple holding what selects frames: the subscription type,
the coin exactly as sent (the SDK already maps display names to internal
coins), users lowercased, and for ``l2Book`` the ``nSigFigs`` and for
``candle`` the interval.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pairflow.hyperliquid import schemas as wire
from pairflow.hyperliquid.schemas import BadRequest

__all__ = ["MAX_SUBSCRIPTIONS", "MAX_USERS", "USER_TYPES", "Key", "SubscriptionError", "Subscriptions",
           "event_source", "key_user", "subscription_key"]

MAX_SUBSCRIPTIONS = 1000
"""Subscriptions allowed per IP, summed over its connections."""
MAX_USERS = 10
"""Distinct users one connection may follow."""
USER_TYPES = frozenset(cls.__struct_config__.tag for cls in wire.SUBSCRIPTION_TYPES
                       if issubclass(cls, wire.UserSubscription) and cls is not wire.ActiveAssetDataSubscription)

Key = tuple


class SubscriptionError(Exception):
    """Raised when a subscription object is not one the venue understands."""


def subscription_key(subscription: Any) -> Key:
    """Return the routing key of a subscribe/unsubscribe object or raise `SubscriptionError`."""
    try:
        decoded = wire.decode_subscription(subscription)
    except BadRequest as exc:
        raise SubscriptionError(exc.detail) from None
    kind = decoded.__struct_config__.tag
    if isinstance(decoded, wire.L2BookSubscription):
        return (kind, decoded.coin, decoded.nSigFigs)
    if isinstance(decoded, wire.CandleSubscription):
        return (kind, decoded.coin, decoded.interval)
    if isinstance(decoded, wire.ActiveAssetDataSubscription):
        return (kind, decoded.coin, decoded.user.lower())
    if isinstance(decoded, wire.UserSubscription):
        return (kind, decoded.user.lower())
    if isinstance(decoded, wire.CoinSubscription):
        return (kind, decoded.coin)
    return (kind,)


_EVENT_DRIVEN_COIN_TYPES = frozenset({"trades", "bbo", "candle"})


def event_source(key: Key) -> str | None:
    """Return the engine event key (coin or lowercase user) whose events feed ``key``, or None.

    ``l2Book``, ``allMids`` and ``activeAssetCtx`` are pushed on a cadence, not per event.
    """
    if key[0] in _EVENT_DRIVEN_COIN_TYPES:
        return key[1]
    return key_user(key)


def key_user(key: Key) -> str | None:
    """Return the user a key follows, or None for market data."""
    if key[0] == "activeAssetData":
        return key[2]
    return key[1] if key[0] in USER_TYPES else None


class Subscriptions:
    """Subscribers per routing key, subscriptions per connection and per IP (event loop thread only).

    Parameters
    ----------
    max_per_ip
        Subscriptions one IP may hold over all its connections.
    max_users
        Distinct users one connection may follow.
    """

    def __init__(self, max_per_ip: int = MAX_SUBSCRIPTIONS, max_users: int = MAX_USERS) -> None:
        self.max_per_ip = max_per_ip
        self.max_users = max_users
        self._subscribers: dict[Key, set[Any]] = {}
        self._by_connection: dict[Any, dict[Key, dict[str, Any]]] = {}
        self._per_ip: dict[str, int] = {}
        self.watched: dict[str, int] = {}
        """Engine event keys (coins, users) some subscription is fed by, with how many keys each feeds;
        read from engine threads to drop unwatched events before they cost a loop wake-up."""

    def __contains__(self, key: Key) -> bool:
        return key in self._subscribers

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._subscribers))

    def subscribers(self, key: Key) -> set[Any]:
        """Return the connections subscribed to ``key`` (empty when none)."""
        return self._subscribers.get(key) or set()

    def has(self, connection: Any, key: Key) -> bool:
        """Return whether ``connection`` holds ``key``."""
        return key in self._by_connection.get(connection, ())

    def refusal(self, connection: Any, key: Key, shown: str) -> str | None:
        """Return the error text refusing ``connection`` a new subscription to ``key`` (sent as ``shown``),
        or None to accept it."""
        if self.has(connection, key):
            return f"Already subscribed: {shown}"
        if self._per_ip.get(connection.ip, 0) >= self.max_per_ip:
            return f"Cannot track more than {self.max_per_ip} total subscriptions"
        user = key_user(key)
        users = {key_user(held) for held in self._by_connection.get(connection, ())} - {None}
        if user is not None and user not in users and len(users) >= self.max_users:
            return f"Cannot track more than {self.max_users} total users"
        return None

    def add(self, connection: Any, key: Key, echo: dict[str, Any]) -> None:
        """Subscribe ``connection`` to ``key``; ``echo`` is the object its responses repeat."""
        self._by_connection.setdefault(connection, {})[key] = echo
        self._per_ip[connection.ip] = self._per_ip.get(connection.ip, 0) + 1
        subscribers = self._subscribers.setdefault(key, set())
        if not subscribers and (source := event_source(key)) is not None:
            self.watched[source] = self.watched.get(source, 0) + 1
        subscribers.add(connection)

    def remove(self, connection: Any, key: Key) -> None:
        """Unsubscribe ``connection`` from ``key`` (nothing happens when it was not subscribed)."""
        held = self._by_connection.get(connection)
        if held is None or held.pop(key, None) is None:
            return
        if not held:
            del self._by_connection[connection]
        left = self._per_ip[connection.ip] - 1
        if left:
            self._per_ip[connection.ip] = left
        else:
            del self._per_ip[connection.ip]
        subscribers = self._subscribers[key]
        subscribers.discard(connection)
        if not subscribers:
            del self._subscribers[key]
            if (source := event_source(key)) is not None:
                if self.watched[source] > 1:
                    self.watched[source] -= 1
                else:
                    del self.watched[source]

    def drop(self, connection: Any) -> None:
        """Remove every subscription of a closed connection."""
        for key in list(self._by_connection.get(connection, ())):
            self.remove(connection, key)
