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
