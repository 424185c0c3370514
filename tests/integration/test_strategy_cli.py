"""``pairflow strategy`` against a real tansu broker: SIGKILL mid-stream, resume from recovery, identical signals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from pairflow.events import Signal
from pairflow.storage import connect
from tests.broker import TansuBroker
from tests.integration.ingest_support import REPO, chdb_settings
from tests.integration.strategy_cli_support import (
    kill_strategy_mid_stream,
    resume_to_the_end,
    signals_by_hand,
    strategy_bars,
)

pytestmark = pytest.mark.broker


def test_sigkill_mid_stream_then_resume_gives_the_signals_of_an_uninterrupted_run(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    messages = strategy_bars(tansu_broker_fn, 240, seed=41)
    common, _ = kill_strategy_mid_stream(tansu_broker_fn, tmp_path, messages, epochs=3)
    resume_to_the_end(tmp_path, common)

    expected = signals_by_hand(messages)
    with connect(chdb_settings(tmp_path)) as store:
        stored = [msgspec.convert(row, Signal) for row in store.select("signals", order_by="ts")]
    assert len(expected) > 10 and stored == expected


def test_a_malformed_pair_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "strategy", "--pairs", "ETH/SOL,ETH"],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip() == "error: --pairs: a pair is two or more distinct coins joined by '/', received 'ETH'"


def test_a_configured_pair_with_a_coin_not_collected_is_refused_by_name(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), PAIRFLOW_COLLECTOR__COINS='["ETH", "SOL"]',
               PAIRFLOW_STORAGE__DSN=f"chdb://{tmp_path}/db", PAIRFLOW_LOGGING__JSON="true")
    done = subprocess.run([sys.executable, "-m", "app", "strategy", "--pairs", "ETH/NOPE"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no spreads to trade: pass --pairs, set strategy.pairs, or run `pairflow scan`"
    refused = [line for line in done.stdout.splitlines() if '"spread refused"' in line]
    assert len(refused) == 1 and '"reason": "unknown-coin"' in refused[0] and '"coins": "NOPE"' in refused[0]
