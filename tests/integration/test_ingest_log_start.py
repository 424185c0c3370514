"""Broker-mode ingest marks each coin's first bars incomplete: the log holds none of its trades from before them.

The md.* topics begin where the collector started (or where retention cut
them), mid-bar: a bar that began before a coin's first trade in the log may
have had trades nobody can read any more, so it must not be stored or
published as complete. Embedded mode marks the same bars when it has nothing
stored to rebuild them from (tests/property/test_ingest_seed_properties.py).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from pairflow.events import Trade
from tests.bars_reference import batch_bars
from tests.broker import TansuBroker
from tests.integration.ingest_support import create_topics, make_tape, produce, published_bar_versions, start_pairflow

pytestmark = pytest.mark.broker

INTERVALS = {"1s": 1_000, "1m": 60_000}


@pytest.mark.parametrize("command", [("run", "ingest"), ("ingest",)], ids=["run-ingest", "ingest"])
def test_a_fresh_start_marks_the_bars_before_each_coins_first_trade_in_the_log(
    tansu_broker_fn: TansuBroker, tmp_path: Path, command: tuple[str, ...]
) -> None:
    create_topics(tansu_broker_fn)
    tape = make_tape(600, seed=5, with_junk=False)
    produce(tansu_broker_fn, tape.messages)
    process = start_pairflow(tmp_path, *command, "--brokers", tansu_broker_fn.bootstrap_servers, "--until-end",
                             "--dead-letter-dir", str(tmp_path / "dead"))
    try:
        assert process.wait(timeout=90) == 0, (tmp_path / f"{command[0]}.log").read_text()
    finally:
        process.kill()
        process.wait()

    first_in_log: dict[str, int] = {}
    for topic, _, payload in tape.messages:
        if topic == "md.trades":
            trade = msgspec.json.decode(payload, type=Trade)
            first_in_log.setdefault(trade.coin, trade.ts)
    expected = {bar_id for bar_id in batch_bars(tape.trades, tuple(INTERVALS.values()))
                if int(bar_id.rsplit(":", 1)[1]) < first_in_log[bar_id.split(":")[0]]}
    assert expected, "the tape must start mid-bar for every coin"
    versions = published_bar_versions(tansu_broker_fn)
    marked = {bar.id for bars in versions.values() for bar in bars if bar.incomplete}
    assert marked == expected
    # A marked bar is marked in every version published, the first included: nothing took it for complete.
    assert all(bar.incomplete for bars in versions.values() for bar in bars if bar.id in expected)
