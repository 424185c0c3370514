"""A trader killed with a spread open and restarted without a recovery snapshot takes the spread over.

The desks are built by the composition root's own factory (`app.runners.trading.desk_factory`) against the
venue over HTTP/WS, with what the first one produced written to a chDB store in a temporary directory. The
first desk is abandoned mid-run, as a SIGKILL leaves it (no shutdown, no cancel, no final pull).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import eth_account

from app.runners.trading import desk_factory
from pairflow.config import Settings, StorageSettings
from pairflow.events import Bar, Event, Signal
from pairflow.storage import BatchWriter, Store, connect, table_for
from tests.integration.test_order_router import MARKS, Setup, positions, venue  # noqa: F401 - the venue fixture


def bar(coin: str, ts: int) -> Bar:
    px = MARKS[coin]
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def signal(ts: int, number: int, target: float) -> Signal:
    sizes = (0.5 * target, -0.0166 * target)
    return Signal(ts=ts, id=f"ETH/BTC:{number}", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5 * target,
                  target=target, reason="entry-long" if target else "exit", legs=("ETH", "BTC"), hedge_ratios=(1.0,),
                  leg_targets=sizes)


def store_events(store: Store, settings: StorageSettings, events: list[Event]) -> None:
    by_table: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_table[table_for(event)].append(event)
    for table, rows in by_table.items():
        with BatchWriter(store, table, settings=settings, background=False) as writer:
            for row in rows:
                writer.add(row)


def test_a_restarted_desk_takes_over_the_open_spread_and_closes_exactly_it(venue: Setup, tmp_path: Path) -> None:
    venue.book("ETH")
    venue.book("BTC")
    wallet = eth_account.Account.create()
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    storage = StorageSettings(dsn=f"chdb://{tmp_path / 'chdb'}", spill_dir=tmp_path / "spill")
    with connect(storage) as store:
        store.init_schema()
        build = desk_factory(Settings(), venue.url, bytes(wallet.key), wallet.address, tmp_path / "trade",
                             store=store)
        now = venue.engine.now_ms
        first = build()
        entry = signal(now, 1, 1.0)
        out = first.reconcile() + first.on_events([bar("ETH", now), bar("BTC", now), entry])
        assert positions(first.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
        store_events(store, storage, [entry, *out])
        first.stream.close()  # killed: nothing else of it runs

        second = build()
        second.reconcile()
        assert second.blocked == ""
        assert {coin: book.szi for coin, book in second.ledger.spreads["ETH/BTC"].items()} == {
            "ETH": 0.5, "BTC": -0.0166}
        assert (second.net.net("ETH"), second.net.net("BTC"), second.acted) == (0.5, -0.0166, {"ETH/BTC": 1.0})
        sent = len(venue.requests)
        # The entry replayed after the restart trades nothing; the exit closes exactly what the spread holds.
        second.on_events([bar("ETH", now + 1), bar("BTC", now + 1), signal(now + 1, 2, 1.0)])
        assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]
        second.on_events([signal(now + 2, 3, 0.0)])
        assert positions(second.router.executor) == {}
        closing = [o for p, b in venue.requests[sent:] if p == "/exchange" for o in b["action"].get("orders", [])]
        assert sorted((o["s"], o["r"]) for o in closing) == [("0.0166", True), ("0.5", True)]
        second.shutdown()
