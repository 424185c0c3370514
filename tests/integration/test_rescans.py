"""Embedded rescans: a periodic scan in the same process reaches the running strategy's router."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from app.runners.rescans import PeriodicRescan, rescan
from flows.strategy import strategy_stage, with_rescans
from pairflow.clock import ManualClock
from pairflow.config import StorageSettings
from pairflow.events import TOPIC_OF, PairStats
from pairflow.hyperliquid.keystore import new_key
from pairflow.storage import Store, connect
from sources.queue_source import QueueSource
from sources.scan_universe import latest_accepted_spreads
from tests.helpers import eventually
from tests.integration.test_demo_spreads import demo_settings, store_candles
from tests.integration.test_strategy_flow import SETTINGS, SPREADS, keyed, verdict
from tests.integration.test_keys_and_trade import PASS
from tests.integration.test_order_router import Setup, venue  # noqa: F401 - the venue fixture
from tests.strategy_support import cointegrated_bars


def drained(source: QueueSource) -> list:
    return [event for _, event, _, _ in source.build("test", 0, 1).next_batch()]


def test_a_periodic_rescan_emits_each_new_scans_accepted_spreads_at_the_clocks_time(store: Store) -> None:
    store_candles(store)
    settings = demo_settings()
    clock = ManualClock(1_700_000_000_000)
    rescans = PeriodicRescan(lambda: rescan(store, settings, clock), every_ms=600_000, clock=clock)
    rescans.start()
    try:
        clock.advance(599_999)
        assert rescans.scans == 0 and not drained(rescans.source)
        clock.advance(1)
        eventually(lambda: rescans.scans == 1)
        emitted = drained(rescans.source)
        stored = latest_accepted_spreads(store, "1m")
        assert emitted and [s.pair for s in emitted] == [s.pair for s in stored]
        assert all(s.accepted and s.ts == s.recv_ts == clock.now_ms() for s in emitted)
        assert {frozenset(s.coins) for s in emitted} == {frozenset({"ETH", "SOL"})}
        clock.advance(600_000)  # the next period scans again, under a new scan id
        eventually(lambda: rescans.scans == 2)
        assert {s.scan_id for s in drained(rescans.source)}.isdisjoint({s.scan_id for s in emitted})
    finally:
        rescans.stop()
    # Each scan's rows and id carry the injected clock's time, not the machine's (2023-11-14 22:23:20 UTC).
    stamps = store.query("SELECT DISTINCT scan_id, ts, recv_ts FROM pair_stats ORDER BY ts")
    assert [(ts, recv_ts) for _, ts, recv_ts in stamps] == [(1_700_000_600_000,) * 2, (1_700_001_200_000,) * 2]
    assert [scan_id[:15] for scan_id, _, _ in stamps] == ["20231114T222320", "20231114T223320"]


def test_a_failing_rescan_is_logged_and_the_next_one_runs_on_time() -> None:
    clock = ManualClock(1_000)
    calls: list[int] = []

    def flaky() -> list[PairStats]:
        calls.append(clock.now_ms())
        if len(calls) == 1:
            raise RuntimeError("store was busy")
        return [verdict("b", 5, SPREADS[0], accepted=True, rank=1)]

    rescans = PeriodicRescan(flaky, every_ms=10, clock=clock)
    rescans.start()
    clock.advance(10)
    eventually(lambda: calls == [1_010])
    assert rescans.scans == 0 and not drained(rescans.source)
    clock.advance(10)
    eventually(lambda: rescans.scans == 1)
    rescans.stop()
    assert calls == [1_010, 1_020]
    assert [s.pair for s in drained(rescans.source)] == ["ETH/SOL"]
    with pytest.raises(StopIteration):  # stopped: the source ends, so the flow can drain and finish
        rescans.source.build("test", 0, 1).next_batch()


def test_a_rescan_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rescan period must be positive, received 0 ms"):
        PeriodicRescan(lambda: [], every_ms=0)


@hypothesis_settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=st.lists(st.one_of(st.binary(max_size=20), st.integers(), st.text(max_size=5)), max_size=3))
def test_an_in_process_rescan_adds_its_spread_to_the_running_strategy(junk: list) -> None:
    bars = cointegrated_bars(("ETH", "SOL", "AVAX"), 120, seed=33)
    found = verdict("rescan", bars[0].ts - 1, ("ETH", "AVAX"), accepted=True, rank=1)
    source = QueueSource()
    for payload in [*junk, found]:  # anything else on the rescan input is dropped, and the flow goes on
        source.emit(TOPIC_OF[PairStats], "ETH/AVAX", payload)
    source.close()
    flow = Dataflow("rescan_test")
    bar_stream = op.input("bars", flow, TestingSource(keyed(bars), batch_size=50))
    market = with_rescans("rescans", op.input("market", flow, TestingSource([])), source)
    signals = strategy_stage("strategy", bar_stream, SPREADS[:1], SETTINGS, market=market)
    captured: list = []
    op.output("out", signals, TestingSink(captured))
    run_main(flow, epoch_interval=timedelta(0))
    flowed = [signal for _, batch in captured for signal in batch]
    # Where the spread starts depends on how Bytewax interleaves the two inputs; that it starts does not.
    assert {s.pair for s in flowed} == {"ETH/SOL", "ETH/AVAX"}


def test_a_running_trader_adds_the_spread_its_rescan_accepts(venue: Setup, tmp_path: Path) -> None:
    """`pairflow trade` holds its chDB, so only its own rescan can add a spread while it runs."""
    storage = StorageSettings(dsn=f"chdb://{tmp_path / 'db'}", spill_dir=tmp_path / "spill")
    with connect(storage) as store:
        store.init_schema()
        store_candles(store)  # ETH/SOL cointegrated 1m history, as an earlier run would have stored it
    account = new_key(tmp_path / "keys", PASS)
    with venue.engine.lock:
        venue.engine.fund(account, 10_000)
    config = tmp_path / "pairflow.toml"
    config.write_text('[strategy]\npairs = ["BTC/ETH"]\n')  # BTC is not collected: nothing to trade at start
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRFLOW_")}
    env.update(PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE=PASS, PAIRFLOW_STORAGE__DSN=storage.dsn)
    run = subprocess.run(
        [sys.executable, "-m", "app", "trade", "--mode", "paper", "--url", venue.url, "--keystore",
         str(tmp_path / "keys" / f"{account.lower()}.json"), "--coins", "ETH,SOL", "--data-dir",
         str(tmp_path / "trade"), "--duration", "4", "--rescan-every", "1", "--config", str(config)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "trading nothing for" in run.stdout
    logged = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [line["pair"] for line in logged if line["event"] == "spread added by a rescan"] == ["ETH/SOL"]
    assert [line["accepted"] for line in logged if line["event"] == "rescan"][:1] == [1]
