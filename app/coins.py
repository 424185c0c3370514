"""Refuse coins the exchange does not list before anything starts.

Without this check a typo such as ``--coins BTCC`` starts a collector whose
subscriptions the exchange refuses, and the flow logs the refusals as
malformed market data; the user never learns which name was wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pairflow.errors import ConfigError, PairflowError
from pairflow.hyperliquid.client import InfoClient
from pairflow.logs import get_logger

__all__ = ["check_coins", "ensure_listed"]

log = get_logger(__name__)


def ensure_listed(coins: Sequence[str], listed: Sequence[str], where: str) -> None:
    """Raise a ConfigError naming every coin of ``coins`` missing from ``listed``, and what ``where`` lists.

    >>> ensure_listed(["BTC"], ["BTC", "ETH"], "the venue")
    >>> ensure_listed(["NOPE", "BTC"], ["BTC", "ETH"], "the venue")
    Traceback (most recent call last):
    pairflow.errors.ConfigError: --coins: NOPE is not listed by the venue, which lists 2 coins: BTC, ETH
    """
    known = set(listed)
    unknown = [coin for coin in coins if coin not in known]
    if unknown:
        names = ", ".join(unknown)
        verb = "is" if len(unknown) == 1 else "are"
        raise ConfigError(
            f"--coins: {names} {verb} not listed by {where}, which lists {len(listed)} coins: {', '.join(listed)}"
        )


def check_coins(url: str, coins: Sequence[str]) -> None:
    """Check ``coins`` against the perpetuals listed by the API at ``url`` (its ``meta`` answer).

    When the API cannot be asked (down, or an unexpected answer) the check is
    skipped with a warning: the collector then starts as before and retries.
    """
    if not coins:
        return
    try:
        listed = asyncio.run(_listed_coins(url))
    except (PairflowError, KeyError, TypeError) as error:
        log.warning("could not check --coins against the exchange", url=url, error=str(error))
        return
    ensure_listed(coins, listed, url)


async def _listed_coins(url: str) -> list[str]:
    async with InfoClient(url, retries=1) as info:
        meta = await info.info({"type": "meta"})
    return [asset["name"] for asset in meta["universe"]]
