"""A desk fed records in order (``run execution``) judges its stops on the records, not on the batches.

The stops were checked once per batch, at the newest event time the batch
reached: the same records cut into other batches (where fetches happened to
end) closed a spread at another time, under another id and price.
"""

from __future__ import annotations

from pathlib import Path

import eth_account

from operators.risk_checks import RiskLimits
from pairflow.events import Event, OrderIntent, Signal
from tests.integration.desk_support import fresh_desk
from tests.integration.test_desk_controls import mark_bar
from tests.integration.test_order_router import Setup, venue  # noqa: F401 - the venue fixture

COINS = ("ETH", "BTC")


def test_a_time_stop_closes_at_the_same_ms_however_the_records_are_batched(venue: Setup, tmp_path: Path) -> None:
    for coin in COINS:
        venue.book(coin)
    now = venue.engine.now_ms
    entry = Signal(ts=now, id="ETH/BTC:1", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                   reason="entry-long", legs=COINS, hedge_ratios=(1.0,), leg_targets=(0.1, -0.01))
    records: list[Event] = [mark_bar(coin, now) for coin in COINS] + [entry] + [
        mark_bar(coin, now + second * 1_000) for second in range(1, 12) for coin in COINS]

    def intents(batches: list[list[Event]], name: str) -> list[tuple]:
        desk = fresh_desk(venue, tmp_path / name, eth_account.Account.create())
        desk.router.limits = RiskLimits(time_stop_ms=5_000)
        out = [event for batch in batches for event in desk.on_events(batch, ordered=True)]
        return [(i.ts, i.signal_id, i.coin, i.is_buy, i.sz, i.limit_px) for i in out if isinstance(i, OrderIntent)]

    whole = intents([records], "whole")
    # Open 5 s at now + 5 s, past it at now + 6 s: the stop closes there, the first ms past the limit.
    assert [intent[:2] for intent in whole[2:]] == [(now + 6_000, f"stop:ETH/BTC@{now + 6_000}")] * 2
    assert intents([[record] for record in records], "one-by-one") == whole
    assert intents([records[:9], records[9:]], "cut-after-the-limit") == whole
