"""SIGKILL of the process that collects: nothing may be lost without a gap saying so.

A venue runs in this process at 30x speed (its engine listener is the record
of every trade it made). ``pairflow ingest --embedded`` (or ``pairflow collect``
into a real tansu broker) collects BTC and ETH from it and is killed with
SIGKILL several times, restarted each time, then stopped cleanly. Afterwards,
against the venue's own record: every trade missing from ``trades`` lies in
a recorded trade gap, no trade is stored twice, every closed minute's candle
is stored as the venue has it, and every 1-minute bar that is not marked
incomplete counts exactly the venue's trades of its minute.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairflow.config import VenueSettings
from pairflow.hyperliquid.client import InfoClient
from pairflow.storage import Store, connect
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import REPO, chdb_settings, create_topics, start_ingest, stop_ingest
from tests.integration.venue_support import Tape
from tests.metrics_support import metric
from venue.service import VenueOptions, VenueService

pytestmark = pytest.mark.slow

COINS = ("BTC", "ETH")
MINUTE_MS = 60_000
KILLS = 3


@pytest.fixture
def fast_venue() -> Iterator[tuple[VenueService, Tape]]:
    """Yield a started venue at 30x speed with lively takers, and the record of its trades."""
    service = VenueService(VenueOptions(VenueSettings(port=0, speed=30.0, data_dir=None)))
    service.start()
    tape = Tape(service.engine)
    try:
        yield service, tape
    finally:
        service.stop()


def _stored_trades(port: int) -> float:
    return metric(port, "pairflow_ingest_messages_out_total", table="trades")


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.parametrize("journal", [True, False], ids=["recovery-dir", "no-recovery-dir"])
def test_embedded_ingest_killed_loses_no_trade_silently(fast_venue, tmp_path: Path, journal: bool) -> None:
    service, tape = fast_venue
    # Epochs of 2 s: at each kill the flow still holds received trades it has not stored.
    arguments = ("--embedded", "--url", service.url, "--coins", ",".join(COINS), "--snapshot-interval", "2")
    if journal:
        arguments += ("--recovery-dir", str(tmp_path / "recovery"))
    extra = {"PAIRFLOW_COLLECTOR__BACKFILL_HOURS": "0"}
    last_made_at_kills = []
    started_ms = None
    for _ in range(KILLS if journal else 1):
        port = free_port()
        process = start_ingest(tmp_path, *arguments, metrics_port=port, extra_env=extra)
        try:
            started_ms = started_ms or _subscribed_at(service, port)
            eventually(lambda: _stored_trades(port) >= 10, timeout=30)
            if not journal:
                # The kill falls in a minute the checks cover (not the first, partly seen one).
                eventually(lambda: service.engine.now_ms >= started_ms - started_ms % MINUTE_MS + MINUTE_MS,
                           timeout=30)
            # The venue stops trading; once the collector has emitted all it will, every trade made is received.
            service.loop.stop()
            eventually(lambda: _received_trades_settled(port), timeout=10)
            if not journal:
                # ... and stored: the bar open at the kill holds stored trades that no restart receives again.
                eventually(lambda: _stored_trades(port) == _received_trades(port), timeout=10)
            last_made_at_kills.append(_last_made(tape))
            _kill(process)
            if journal:
                service.loop.start()
        finally:
            if process.poll() is None:
                process.kill()
    port = free_port()
    process = start_ingest(tmp_path, *arguments, metrics_port=port, extra_env=extra)
    try:
        if not journal:
            # Trading goes on once the restarted collector listens (the venue skips the minutes it stood still),
            # so its replay on subscribe reaches back to the kill and no gap marks the bar open at the kill.
            _subscribed_at(service, port)
            service.loop.start()
        _run_whole_minutes(service, port)
    finally:
        stop_ingest(process)
    assert process.returncode == 0, (tmp_path / "ingest.log").read_text()[-3_000:]

    with connect(chdb_settings(tmp_path)) as store:
        _assert_nothing_lost_silently(store, tape, service.url, started_ms)
        starts = set(store.query("SELECT coin, start_ts FROM gaps FINAL WHERE stream = 'trades'"))
        if not journal:
            _assert_bar_open_at_kill_complete(store, tape, last_made_at_kills[0])
    if journal:
        # Nothing received was lost: each restart's trade gap starts exactly at the last trade made
        # (and so received) before the kill, not at the last one the killed flow had stored.
        for last_made in last_made_at_kills:
            assert set(last_made.items()) <= starts, (last_made, sorted(starts))


def _assert_bar_open_at_kill_complete(store: Store, tape: Tape, last_made: dict[str, int]) -> None:
    """The restart rebuilt the bar open at the kill from the trades the killed run stored.

    Before, that bar held only the trades received after the restart: here none, so it was never stored.
    """
    made: dict[tuple[str, int], int] = defaultdict(int)
    for trade in tape.trades:
        made[(trade["coin"], trade["time"] - trade["time"] % MINUTE_MS)] += 1
    kill_minutes = sorted((coin, ts - ts % MINUTE_MS) for coin, ts in last_made.items())
    stored = store.query("SELECT coin, ts, trades, incomplete FROM bars_1m FINAL WHERE (coin, ts) IN "
                         "{bars:Array(Tuple(String, Int64))} ORDER BY coin", {"bars": kill_minutes})
    assert stored == [(coin, ts, made[(coin, ts)], False) for coin, ts in kill_minutes]


def _subscribed_at(service: VenueService, port: int) -> int:
    """Wait until the collector in the process serving metrics on ``port`` subscribed; return the venue's time."""
    eventually(lambda: metric(port, "pairflow_collector_messages_in_total", channel="subscriptionResponse") > 0,
               timeout=30)
    return service.engine.now_ms


def _run_whole_minutes(service: VenueService, port: int) -> None:
    """Let the last run collect three venue minutes, so some whole minutes (and bars) lie in no gap."""
    subscribed = _subscribed_at(service, port)
    eventually(lambda: service.engine.now_ms >= subscribed + 3 * MINUTE_MS, timeout=30)


def _received_trades(port: int) -> float:
    return metric(port, "pairflow_collector_messages_out_total", topic="md.trades")


def _received_trades_settled(port: int) -> bool:
    before = _received_trades(port)
    time.sleep(0.5)
    return _received_trades(port) == before


def _last_made(tape: Tape) -> dict[str, int]:
    last: dict[str, int] = {}
    for trade in tape.trades:
        if trade["coin"] in COINS:
            last[trade["coin"]] = max(last.get(trade["coin"], 0), trade["time"])
    return last


@pytest.mark.broker
def test_collect_process_killed_in_broker_mode_loses_no_trade_silently(
    fast_venue, tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    service, tape = fast_venue
    create_topics(tansu_broker_fn)
    started_ms = None
    for round_ in range(KILLS + 1):
        port = free_port()
        collector = _start_collect(tmp_path, service.url, tansu_broker_fn, port)
        try:
            started_ms = started_ms or _subscribed_at(service, port)
            eventually(lambda: metric(port, "pairflow_collector_messages_out_total", topic="md.trades") >= 20,
                       timeout=30)
            if round_ == KILLS:
                _run_whole_minutes(service, port)
            time.sleep(1.0)
            if round_ < KILLS:
                _kill(collector)
        finally:
            if round_ == KILLS:
                collector.send_signal(signal.SIGINT)
                assert collector.wait(timeout=20) == 0, (tmp_path / "collect.log").read_text()[-3_000:]
            elif collector.poll() is None:
                collector.kill()
    ingest = start_ingest(tmp_path, "--brokers", tansu_broker_fn.bootstrap_servers, "--until-end")
    assert ingest.wait(timeout=60) == 0, (tmp_path / "ingest.log").read_text()[-3_000:]

    with connect(chdb_settings(tmp_path)) as store:
        _assert_nothing_lost_silently(store, tape, service.url, started_ms)


def _start_collect(tmp_path: Path, url: str, broker: TansuBroker, metrics_port: int) -> subprocess.Popen:
    env = {
        "PYTHONPATH": str(REPO),
        "PAIRFLOW_BROKER__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "PAIRFLOW_BROKER__PARTITIONS": "2",
        "PAIRFLOW_METRICS__PORT": str(metrics_port),
        "PAIRFLOW_LOGGING__LEVEL": "WARNING",
        "PAIRFLOW_COLLECTOR__BACKFILL_HOURS": "0",
    }
    log = open(tmp_path / "collect.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen([sys.executable, "-m", "app", "collect", "--url", url, "--coins", ",".join(COINS)],
                            cwd=tmp_path, env=dict(os.environ, **env), stdout=log, stderr=subprocess.STDOUT)


def _assert_nothing_lost_silently(store: Store, tape: Tape, url: str, started_ms: int) -> None:
    stored = dict(store.query("SELECT id, ts FROM trades FINAL"))
    rows, unique = store.query("SELECT count(), uniqExact(id) FROM trades FINAL")[0]
    assert rows == unique == len(stored)
    gaps = defaultdict(list)
    for coin, start, end in store.query("SELECT coin, start_ts, end_ts FROM gaps FINAL WHERE stream = 'trades'"
                                        " AND NOT filled"):
        gaps[coin].append((start, end))
    # Per coin, from the first trade stored (before it, the first run had nothing to miss) to the last,
    # by trade id: the venue numbers trades in the order it makes them, and several share a millisecond.
    spans = {coin: (first, last) for coin, first, last in store.query(
        "SELECT coin, min(tid), max(tid) FROM trades FINAL GROUP BY coin")}
    assert set(spans) == set(COINS)
    venue = {f"{trade['coin']}:{trade['tid']}": trade for trade in tape.trades if trade["coin"] in COINS}
    assert set(stored) <= set(venue), "stored trades the venue never made"
    in_span = {trade_id: trade for trade_id, trade in venue.items()
               if spans[trade["coin"]][0] <= trade["tid"] <= spans[trade["coin"]][1]}
    missing = [trade for trade_id, trade in in_span.items() if trade_id not in stored]
    silent = [trade for trade in missing
              if not any(start <= trade["time"] <= end for start, end in gaps[trade["coin"]])]
    assert not silent, f"{len(silent)} of {len(missing)} missing trades lie in no recorded gap: {silent[:3]}"

    # Every minute from the first start to the last trade stored, but the two partly covered ones.
    last = min(max(trade["time"] for trade in in_span.values() if trade["coin"] == coin) for coin in COINS)
    minutes = range(started_ms - started_ms % MINUTE_MS + MINUTE_MS, last - last % MINUTE_MS, MINUTE_MS)
    venue_candles = asyncio.run(_venue_candles(url, minutes.start, minutes.stop))
    stored_candles = {(coin, ts): (n, volume) for coin, ts, n, volume in store.query(
        "SELECT coin, ts, trades, volume FROM candles FINAL WHERE interval = '1m'")}
    for coin in COINS:
        for candle in venue_candles[coin]:
            if candle["t"] in minutes:
                expected = (candle["n"], float(candle["v"]))
                assert stored_candles.get((coin, candle["t"])) == expected, (coin, candle["t"])

    per_minute: dict[tuple[str, int], int] = defaultdict(int)
    for trade in in_span.values():
        per_minute[(trade["coin"], trade["time"] - trade["time"] % MINUTE_MS)] += 1
    bars = store.query("SELECT coin, ts, trades FROM bars_1m FINAL WHERE NOT incomplete")
    wrong = [(coin, ts, n, per_minute[(coin, ts)]) for coin, ts, n in bars
             if ts in minutes and n != per_minute[(coin, ts)]]
    assert not wrong, f"complete 1m bars with a wrong trade count (coin, ts, stored, venue): {wrong[:5]}"
    assert any(ts in minutes for _, ts, _ in bars), "no complete bar to check"


async def _venue_candles(url: str, start_ms: int, end_ms: int) -> dict[str, list[dict]]:
    async with InfoClient(url) as info:
        return {coin: await info.candle_snapshot(coin, "1m", start_ms, end_ms) for coin in COINS}
