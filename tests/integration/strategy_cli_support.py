"""The ``pairflow strategy`` kill-and-resume scenario shared by its CLI test and the fault table.

Both need the same steps: bars on a real broker, a SIGKILL once some epochs
are committed, a resume to the end of the input, and the signals a strategy
run by hand over the same bars would give, to compare the stored rows with.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import msgspec

from operators.spread_strategy import SpreadStrategy
from pairflow.config import StrategySettings
from pairflow.events import Bar, Signal, encode
from pairflow.topics import TopicSpec, ensure_topics
from tests.broker import TansuBroker
from tests.helpers import eventually, free_port
from tests.integration.ingest_support import committed_epoch, produce, start_pairflow
from tests.metrics_support import metric
from tests.strategy_support import cointegrated_bars

LEGS = ("ETH", "SOL")
STRATEGY_ENV = {
    "PAIRFLOW_STRATEGY__WARMUP_ROWS": "20",
    "PAIRFLOW_STRATEGY__ZSCORE_WINDOW": "20",
    "PAIRFLOW_STRATEGY__HEARTBEAT_ROWS": "10",
    "PAIRFLOW_STRATEGY__ENTRY_Z": "1.5",
    "PAIRFLOW_STRATEGY__META_LABEL": "true",
    "PAIRFLOW_STRATEGY__META_WARMUP": "2",
    "PAIRFLOW_STRATEGY__BANDIT": "true",
}

Message = tuple[str, bytes, bytes]


def start_strategy(tmp_path: Path, *arguments: str, metrics_port: int = 0) -> subprocess.Popen:
    return start_pairflow(
        tmp_path, "strategy", "--pairs", "/".join(LEGS), *arguments, metrics_port=metrics_port, extra_env=STRATEGY_ENV
    )


def strategy_bars(broker: TansuBroker, count: int, seed: int) -> list[Message]:
    """Create the strategy's topics and return ``count`` cointegrated bars per leg as messages (not yet produced)."""
    ensure_topics(broker.admin(), [TopicSpec(name, 2) for name in ("md.bars", "md.funding", "md.fees", "pf.signals")])
    return [("md.bars", bar.coin.encode(), encode(bar)) for bar in cointegrated_bars(LEGS, count, seed=seed)]


def kill_strategy_mid_stream(
    broker: TansuBroker, tmp_path: Path, messages: list[Message], epochs: int
) -> tuple[tuple[str, ...], float]:
    """Run the strategy over the first half, SIGKILL it after ``epochs`` commits, then produce the second half.

    Returns the arguments to resume with and the signals counted at the kill.
    """
    half = len(messages) // 2
    produce(broker, messages[:half])
    recovery = tmp_path / "recovery"
    port = free_port()
    common = ("--brokers", broker.bootstrap_servers, "--recovery-dir", str(recovery), "--snapshot-interval", "0.2")
    first = start_strategy(tmp_path, *common, metrics_port=port)
    try:
        eventually(
            lambda: committed_epoch(recovery) >= epochs and metric(port, "pairflow_strategy_signals_total") >= 3,
            timeout=60,
        )
        signals_at_kill = metric(port, "pairflow_strategy_signals_total")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    produce(broker, messages[half:])
    return common, signals_at_kill


def resume_to_the_end(tmp_path: Path, common: tuple[str, ...]) -> None:
    second = start_strategy(tmp_path, *common, "--until-end")
    assert second.wait(timeout=90) == 0, (tmp_path / "strategy.log").read_text()[-3_000:]


def signals_by_hand(messages: list[Message]) -> list[Signal]:
    """Return the signals one uninterrupted in-process strategy gives over ``messages``."""
    settings = StrategySettings(
        **{key.split("__")[1].lower(): value for key, value in STRATEGY_ENV.items()}, reorder_ms=60 * 60_000
    )
    by_hand = SpreadStrategy(LEGS, settings)
    bars = [msgspec.json.decode(value, type=Bar) for _, _, value in messages]
    expected = [s for b in bars for s in by_hand.update(b) if isinstance(s, Signal)]
    return expected + [s for s in by_hand.flush() if isinstance(s, Signal)]
