"""Strategy stage throughput: the Bytewax stage against a plain Python loop of the same operators.

Run: ``.venv/bin/python benchmarks/bench_strategy.py [--events N] [--pairs P] [--repeats R] [--ml-events M] [--write]``.

Workload: ``P`` pairs (``2P`` coins) of seeded cointegrated legs, ``N`` 1-minute
`Bar` events in all, in time order (`tests.strategy_support.cointegrated_bars`).

* ``plain loop`` (baseline) — a dict from coin to the spreads it is a leg of
  and one `operators.spread_strategy.SpreadStrategy` per spread, fed bar by bar.
* ``strategy stage`` — `flows.strategy.strategy_stage` in a one-worker Bytewax
  dataflow (``TestingSource`` of ``(coin, [bar])`` items in batches of 1,000,
  one epoch for the run): fan-out to spreads, keyed state, signals out.

Both run with ML off (the rule alone) and after
`pairflow.runtime.tune_gc_for_throughput`. Parity first: one warm-up run of
each path must give the same signals (all fields). Then each path is timed
``repeats`` times round-robin; the best run is reported.

The cost of each River model is measured in the plain loop over the first
``M`` events: the same spreads with one model switched on (then all of them),
against the rule alone on the same events.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bytewax.operators as op  # noqa: E402
import river  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import TestingSink, TestingSource, run_main  # noqa: E402

from benchmarks.machine import arguments, best_of, provenance, publish  # noqa: E402
from flows.strategy import strategy_stage  # noqa: E402
from operators.spread_strategy import SpreadStrategy  # noqa: E402
from pairflow.config import LoggingSettings, StrategySettings  # noqa: E402
from pairflow.events import Bar, Signal  # noqa: E402
from pairflow.logs import configure_logging  # noqa: E402
from pairflow.runtime import tune_gc_for_throughput  # noqa: E402
from tests.strategy_support import cointegrated_bars  # noqa: E402

SETTINGS = StrategySettings()
MODELS = {
    "meta-label classifier": {"meta_label": True},
    "Half-Space Trees gate": {"anomaly_gate": True},
    "ADWIN relation break": {"relation_break": True},
    "threshold bandit": {"bandit": True},
    "all four": {"meta_label": True, "anomaly_gate": True, "relation_break": True, "bandit": True},
}


def make_bars(pairs: int, events: int) -> tuple[list[tuple[str, str]], list[Bar]]:
    """Return the spreads and ``events`` bars of their legs, merged in time order."""
    spreads = [(f"Y{index}", f"X{index}") for index in range(pairs)]
    rows = events // (2 * pairs)
    bars = [bar for index, legs in enumerate(spreads) for bar in cointegrated_bars(legs, rows, seed=100 + index)]
    bars.sort(key=lambda bar: bar.ts)  # stable: legs of one period stay in order
    return spreads, bars


def plain_loop(spreads: list[tuple[str, str]], bars: list[Bar], settings: StrategySettings) -> list[Signal]:
    """The baseline: the same per-spread operators, called from a Python loop."""
    by_coin: dict[str, list[SpreadStrategy]] = {}
    for legs in spreads:
        strategy = SpreadStrategy(legs, settings)
        for coin in legs:
            by_coin.setdefault(coin, []).append(strategy)
    signals: list[Signal] = []
    for bar in bars:
        for strategy in by_coin[bar.coin]:
            for out in strategy.update(bar):
                if type(out) is Signal:
                    signals.append(out)
    return signals


def stage_run(spreads: list[tuple[str, str]], items: list[tuple[str, list[Bar]]], settings: StrategySettings) -> list[Signal]:
    """The strategy stage in a one-worker Bytewax dataflow."""
    captured: list = []
    flow = Dataflow("bench_strategy")
    stream = op.input("bars", flow, TestingSource(items, batch_size=1_000))
    op.output("signals", strategy_stage("strategy", stream, list(spreads), settings), TestingSink(captured))
    run_main(flow, epoch_interval=timedelta(hours=1))
    return [signal for _, batch in captured for signal in batch]


def main() -> None:
    parser = arguments(__doc__, "strategy", seed=None)
    parser.add_argument("--events", type=int, default=1_000_000, help="bar events in all")
    parser.add_argument("--pairs", type=int, default=10, help="pairs (two coins each)")
    parser.add_argument("--ml-events", type=int, default=100_000, help="events over which each model's cost is measured")
    args = parser.parse_args()

    configure_logging(LoggingSettings(level="WARNING"))  # the first bar of each pair is refused (leg missing)
    tune_gc_for_throughput()
    spreads, bars = make_bars(args.pairs, args.events)
    items = [(bar.coin, [bar]) for bar in bars]
    events = len(bars)

    looped = plain_loop(spreads, bars, SETTINGS)
    staged = stage_run(spreads, items, SETTINGS)
    key = lambda signal: (signal.pair, signal.ts)  # noqa: E731
    if sorted(looped, key=key) != sorted(staged, key=key):
        sys.exit("parity failed: the stage's signals differ from the plain loop's")
    print(f"parity: {len(looped):,} identical signals", flush=True)

    paths = {
        "plain loop": lambda: plain_loop(spreads, bars, SETTINGS),
        "strategy stage": lambda: stage_run(spreads, items, SETTINGS),
    }
    best = {name: wall for name, (_cpu, wall) in best_of(args.repeats, paths).items()}
    sample = bars[: args.ml_events]
    ml_paths: dict[str, Callable[[], object]] = {"rule alone": lambda: plain_loop(spreads, sample, SETTINGS)}
    for name, switches in MODELS.items():
        settings = SETTINGS.model_copy(update=switches)
        ml_paths[name] = lambda settings=settings: plain_loop(spreads, sample, settings)
    ml_best = {name: wall for name, (_cpu, wall) in best_of(args.repeats, ml_paths).items()}

    rows = [
        f"| {name} (baseline) | {seconds:.2f} | {events / seconds:,.0f} | {seconds / events * 1e6:.1f} | 1.00x |"
        if name == "plain loop"
        else f"| {name} | {seconds:.2f} | {events / seconds:,.0f} | {seconds / events * 1e6:.1f} | "
        f"{best['plain loop'] / seconds:.2f}x |"
        for name, seconds in best.items()
    ]
    base = ml_best["rule alone"]
    ml_rows = [
        f"| {name} | {seconds / len(sample) * 1e6:.1f} | {(seconds - base) / len(sample) * 1e6:+.1f} | {base / seconds:.2f}x |"
        for name, seconds in ml_best.items()
    ]
    command = "benchmarks/bench_strategy.py" + "".join(
        f" --{name.replace('_', '-')} {value}" for name, value in vars(args).items() if name != "write"
    )
    block = "\n".join(
        [
            "## Strategy stage: Bytewax vs a plain loop of the same operators",
            "",
            *provenance(),
            f"- bytewax {version('bytewax')}, river {river.__version__}",
            f"- command: `.venv/bin/python {command}`",
            f"- workload: {events:,} 1-minute bars of {2 * args.pairs} coins, {args.pairs} pairs; "
            f"{len(looped):,} signals (rule alone: z-score bands, hold heartbeat every {SETTINGS.heartbeat_rows} rows)",
            "- parity: the stage's signals equal the plain loop's, every field, before timing",
            "- one worker; the stage reads `(coin, [bar])` items in source batches of 1,000 and runs one epoch",
            "- the machine is shared with other jobs; compare rows within this block only",
            "",
            "| path (ML off) | best s | events/s | µs per event | vs plain loop |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Cost of each River model, plain loop over the first {len(sample):,} events (best of {args.repeats}):",
            "",
            "| models on | µs per event | added µs per event | speed vs rule alone |",
            "|---|---:|---:|---:|",
            *ml_rows,
        ]
    )
    publish(block, "strategy", args.write)


if __name__ == "__main__":
    main()
