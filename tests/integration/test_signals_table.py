"""Every field of a Signal survives the signals table and the pf.signals topic encoding."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings

from pairflow import events
from pairflow.storage import BatchWriter, Store
from tests.support.event_examples import any_event

signals = any_event(events.Signal)


@settings(max_examples=60, deadline=None)
@given(signals)
def test_signal_round_trips_through_its_topic(signal: events.Signal) -> None:
    assert events.decode_topic("pf.signals", events.encode(signal)) == signal
    assert events.key_of(signal) == signal.pair


def test_signal_round_trips_through_the_signals_table(store: Store) -> None:
    written = [
        events.Signal(
            ts=1_700_000_060_000, recv_ts=1_700_000_060_004, id="ETH/SOL:1700000060000", pair="ETH/SOL",
            hedge_ratio=1.31, spread=-0.0123, zscore=-2.4, target=0.75, reason="entry-long",
            legs=("ETH", "SOL"), hedge_ratios=(1.31,), leg_targets=(0.25, -13.2),
            features={"zscore": -2.4, "cost": 0.0011, "funding_diff_per_hour": -1.25e-5},
            model_versions={"meta_label": "meta_label:12", "bandit": "bandit:3"},
        ),
        events.Signal(ts=1_700_000_000_000, id="AAVE/UNI/LINK:1700000000000", pair="AAVE/UNI/LINK",
                      hedge_ratio=0.5, spread=0.0, zscore=0.0, target=0.0),
    ]
    with BatchWriter(store, "signals", background=False) as writer:
        writer.add_many(written)
    rows = store.select("signals", order_by="ts")
    assert [msgspec.convert(row, events.Signal) for row in rows] == sorted(written, key=lambda s: s.ts)
