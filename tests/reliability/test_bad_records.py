"""Malformed records on ``md.bars`` under a running ``pairflow strategy``: it reads past them and its signals do not change.

Garbage bytes, JSON of another shape and bars that fail validation are mixed into the cointegrated
bars of two legs on the real broker. The stage must run to the end of its input with exit code 0,
store exactly the signals a strategy run by hand over the good bars gives, and store nothing that
came from a bad record.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pairflow.storage import connect
from tests.broker import TansuBroker
from tests.integration.ingest_support import chdb_settings, produce
from tests.integration.strategy_cli_support import resume_to_the_end, signals_by_hand, strategy_bars
from tests.reliability.support import lost_and_duplicated, record

pytestmark = [pytest.mark.slow, pytest.mark.broker]

JUNK = (
    b"\xff\xfe not json",
    b'{"ts": 1750000000000, "coin": "ETH"',
    b'[1, 2, 3]',
    b'{"ts": -5, "id": "ETH:1s:-5", "coin": "ETH", "interval": "1s", "open": 1.0, "high": 1.0, "low": 1.0,'
    b' "close": 1.0, "volume": 1.0, "notional": 1.0, "vwap": 1.0, "trades": 1}',
    b'{"ts": 1750000000000, "id": "", "coin": "SOL", "interval": "1s", "open": "cheap"}',
    # Stamped in microseconds: far past 2100, refused by the decoder, let through by the event-time merge at once.
    b'{"ts": 1750000000000000, "id": "ETH:1s:1750000000000000", "coin": "ETH", "interval": "1s", "open": 1.0,'
    b' "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0, "notional": 1.0, "vwap": 1.0, "trades": 1}',
)


def test_malformed_bars_do_not_stop_the_strategy_or_change_its_signals(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    messages = strategy_bars(tansu_broker_fn, 150, seed=47)
    mixed = list(messages)
    for index, junk in enumerate(JUNK):
        mixed.insert(len(mixed) * (index + 1) // (len(JUNK) + 1), ("md.bars", b"ETH", junk))
    produce(tansu_broker_fn, mixed)
    resume_to_the_end(tmp_path, ("--brokers", tansu_broker_fn.bootstrap_servers,
                                 "--recovery-dir", str(tmp_path / "recovery")))
    assert (tmp_path / "strategy.log").read_text().count("malformed record") == len(JUNK)
    expected = signals_by_hand(messages)
    with connect(chdb_settings(tmp_path)) as store:
        lost, duplicated = lost_and_duplicated(store, "signals", {signal.id for signal in expected})
        stored = {row[0] for row in store.query("SELECT id FROM signals_v")}
    assert stored == {signal.id for signal in expected}, "a signal came from a bad record or went missing"
    record("malformed md.bars records under strategy", len(expected), lost, duplicated, recovery_s=None)
