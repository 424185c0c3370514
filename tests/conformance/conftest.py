"""Fixtures for the venue conformance suite: a real engine served over real HTTP/WebSocket.

Every test gets a fresh engine and server (startup is ~0.1 s) so cases cannot
leak state into each other. Time is wall-clock plus an offset the test may
move forward (`SteppableClock.step`) to reach scheduled cancels, triggers and
funding hours without sleeping; SDK nonces stay wall-clock and inside the window.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import eth_account
import pytest
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from tests.support.venue import ASSETS, SteppableClock, make_engine, run_venue
from venue.engine import Engine, Limit, OrderRequest, Resting, Tif

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hyperliquid"


def fixture(name: str) -> Any:
    """Return the recorded response of a copied fixture (tests/fixtures/hyperliquid/<name>)."""
    return json.loads((FIXTURES / name).read_text())["response"]


def same_shape(ours: Any, recorded: Any, path: str = "$") -> list[str]:
    """List where ``ours`` lacks a key of ``recorded`` or holds a different JSON type (null matches anything).

    Homogeneous lists are compared item-to-first-item so a recorded example checks every element we
    return; mixed-type lists (tuples such as ``[id, {...}]``) are compared position by position.
    """
    problems: list[str] = []
    if recorded is None or ours is None:
        return problems
    if isinstance(recorded, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected object, was {type(ours).__name__}"]
        for key, value in recorded.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(same_shape(ours[key], value, f"{path}.{key}"))
        return problems
    if isinstance(recorded, list):
        if not isinstance(ours, list):
            return [f"{path}: expected list, was {type(ours).__name__}"]
        if len({type(item) for item in recorded}) > 1:  # a tuple such as [id, {...}]: compare by position
            for index, (item, example) in enumerate(zip(ours, recorded)):
                problems.extend(same_shape(item, example, f"{path}[{index}]"))
        elif recorded:
            for index, item in enumerate(ours):
                problems.extend(same_shape(item, recorded[0], f"{path}[{index}]"))
        return problems
    expected = bool if isinstance(recorded, bool) else (int, float) if isinstance(recorded, (int, float)) else str
    if isinstance(ours, bool) != isinstance(recorded, bool) or not isinstance(ours, expected):
        problems.append(f"{path}: expected {type(recorded).__name__}, was {type(ours).__name__} ({ours!r})")
    return problems


@dataclass
class Venue:
    """A served engine plus the handles tests need."""

    engine: Engine
    url: str
    clock: SteppableClock
    requests: list = field(default_factory=list)

    def wallet(self, usdc: float = 100_000.0) -> LocalAccount:
        """Return a new key whose address the engine funded with ``usdc``."""
        account = eth_account.Account.create()
        with self.engine.lock:
            self.engine.fund(account.address, usdc)
        return account

    def exchange(self, wallet: LocalAccount, **kwargs: Any) -> Exchange:
        return Exchange(wallet, self.url, **kwargs)

    def info(self) -> Info:
        return Info(self.url, skip_ws=True)

    def rest(self, coin: str, is_buy: bool, px: str, sz: str, user: str | None = None) -> str:
        """Rest a Gtc order for a market-maker account straight on the engine; return that account."""
        user = user or self.wallet(10_000_000.0).address
        asset = [spec.name for spec in ASSETS].index(coin)
        with self.engine.lock:
            (status,) = self.engine.place_orders(
                user, [OrderRequest(asset, is_buy, px, sz, False, Limit(Tif.GTC))])
        assert isinstance(status, Resting), status
        return user

    def seed_book(self, coin: str = "ETH", bid: str = "1999", ask: str = "2001", sz: str = "5") -> str:
        """Give ``coin`` a two-sided book owned by one maker; return the maker's address."""
        maker = self.rest(coin, True, bid, sz)
        self.rest(coin, False, ask, sz, user=maker)
        return maker


@pytest.fixture
def venue() -> Iterator[Venue]:
    clock = SteppableClock()
    engine = make_engine(clock())
    log: list = []
    with run_venue(engine, clock=clock, advance_interval=0.02, push_interval=0.05, request_log=log) as url:
        yield Venue(engine, url, clock, log)
