"""The venue without HTTP: an exchange client answering ``exchange`` and ``info`` from an in-process engine.

A backtest drives the venue's matching engine in the same process, yet wants
the very order path that trades live: `sinks.executor.HyperliquidExecutor`
and the desk's account view speak the exchange's JSON. `InProcessClient` has
the two methods they call and answers them with the server's own handlers
(``/exchange`` actions and ``/info`` requests, formatted for the wire), minus
the transport, signatures and nonces: the caller is the one account it was
built for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pairflow.hyperliquid import schemas as rq
from venue.engine import Engine
from venue.server.exchange import ExchangeService
from venue.server.info import InfoService
from venue.server.nonces import NonceTracker

__all__ = ["InProcessClient"]


class InProcessClient:
    """`exchange` / `info` of one account on ``engine``, with the venue's wire format and no transport.

    Examples
    --------
    >>> from venue.engine import AssetSpec
    >>> engine = Engine([AssetSpec("ETH", 4, 25)], now_ms=1_000)
    >>> client = InProcessClient(engine, "0x" + "a" * 40)
    >>> engine.fund(client.account, "100")
    >>> client.info({"type": "clearinghouseState", "user": client.account})["marginSummary"]["accountValue"]
    '100.0'
    """

    def __init__(self, engine: Engine, account: str) -> None:
        self.engine = engine
        self.account = account.lower()
        clock = lambda: engine.now_ms  # noqa: E731 - engine time is the only clock here
        self._exchange = ExchangeService(engine, NonceTracker(), clock)
        self._info = InfoService(engine, clock)

    def now_ms(self) -> int:
        """Return the engine's time: the clock an action's ``expiresAfter`` is checked against here."""
        return self.engine.now_ms

    def exchange(self, action: dict[str, Any], expires_after: int | None = None) -> Any:
        """Run one action as the account; the JSON the venue would answer (refused once ``expires_after`` passed)."""
        return self._exchange.execute_as(self.account, action, expires_after)

    def info(self, body: Mapping[str, Any]) -> Any:
        """Answer one ``/info`` request body."""
        return self._info.handle(rq.decode_info_request(dict(body)))
