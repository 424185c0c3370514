"""``pairflow backtest``: replay recorded bars and funding through the strategy and desk onto the simulated venue."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.backtest.modes import MODES, recorded_factory, strategy_factory
from app.backtest.record import store_run
from app.backtest.report import write_report
from app.backtest.run import BacktestResult, run_backtest
from app.backtest.session import load_session
from app.backtest.summary import print_summary, print_sweep
from app.backtest.sweep import parse_sweep, run_sweep
from app.backtest.vectorised import check as check_vectorised, run_vectorised
from app.options import ConfigOption
from pairflow.config import Settings, StrategySettings, load_settings
from pairflow.errors import ConfigError
from pairflow.logs import start_logging
from pairflow.storage import Store, connect
from sources.replay import Recording, load_files, load_store, replay

__all__ = [
    "BacktestOutcome", "BacktestSpec", "load_recording", "parse_spreads", "parse_time", "register", "run_and_store",
]


def parse_time(text: str | None, option: str) -> int | None:
    """Return epoch ms of an ISO date or date-time (UTC unless a zone is given); None for None."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not an ISO date or date-time such as 2024-10-01 or 2024-10-01T12:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def backtest(
    start: Annotated[str | None, typer.Option("--from", help="First bar time (ISO, UTC), inclusive.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End time (ISO, UTC), exclusive.")] = None,
    spreads: Annotated[str | None, typer.Option(
        "--spreads", help="Spreads to trade, e.g. ETH/SOL,BTC/ETH; default: the strategy.pairs setting.")] = None,
    data: Annotated[list[str] | None, typer.Option(
        "--data", help="'store' (candles and funding tables) or CSV/Parquet files, repeatable; default: store.")] = None,
    fill: Annotated[str, typer.Option(
        "--fill", help="Fills at the signal bar's 'close', the 'next_open', or 'book': against the recorded "
                       "book snapshots and trades of the store or of --data book and trade files (takers walk "
                       "the depth, resting orders wait behind the recorded queue for trades to reach them).")] = "close",
    latency_ms: Annotated[int, typer.Option(
        "--latency-ms", min=0, help="Orders reach the exchange this many ms after the decision: with book fills "
                                    "they meet the book recorded then; fills are stamped then.")] = 0,
    taker_fee: Annotated[float | None, typer.Option(
        "--taker-fee", help="Fixed taker fee rate (0.00045 = 4.5 bp); default: the venue's fee schedule.")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="Signal mode: 'spread' (the live strategy), 'rolling-ols', 'kalman-units', or 'recorded': "
                       "the stored signals of a paper or live session, each at the time its first order "
                       "reached the venue, its legs in the session's order and, with --fill book, each order "
                       "at its recorded arrival (replays that session's orders).")] = "spread",
    units: Annotated[float, typer.Option(
        "--units", min=0, help="rolling-ols / kalman-units: coins of the first leg held per position.")] = 1.0,
    window: Annotated[int | None, typer.Option(
        "--window", min=2, help="rolling-ols: window in bars (default: strategy.zscore_window).")] = None,
    no_costs: Annotated[bool, typer.Option(
        "--no-costs", help="Zero fees and funding (the literature's setting).")] = False,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write an HTML report (equity, drawdown, z-scores with trades, attribution).")] = None,
    sweep: Annotated[str | None, typer.Option(
        "--sweep", help="Parameter sensitivity: also run once per value of one numeric strategy setting, e.g. "
                        "entry_z=1.5,2,2.5; prints Sharpe, PnL, fills and drawdown per value (and plots them "
                        "in --report).")] = None,
    vectorised: Annotated[bool, typer.Option(
        "--vectorised", help="Compute the run from arrays instead of replaying every event: the same fills, "
                             "funding, signals, trades hash and figures as the replay, stored the same way "
                             "(BENCHMARKS.md gives its speed). For --mode rolling-ols with --fill close, a fixed "
                             "--taker-fee or --no-costs, IOC orders, spreads sharing no coin and every execution "
                             "risk limit at 0; anything else is refused, naming the option.")] = False,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Store the run in backtest_runs/backtest_trades.")] = True,
    config: ConfigOption = None,
) -> None:
    """Replay recorded bars and funding in event-time order through the strategy and the trading desk.

    Orders go to the venue's matching engine in-process: fills at the bar close
    (or next bar open, or against the recorded book and trades), fees from the
    fee schedule, the recorded hourly funding on open legs (on the oracle recorded before the hour, else the last
    bar close). Prints the figures, PnL attribution and per-spread lines;
    data problems (holes, missing funding, a coin starting late) are named with
    coin and time range. Same data and config give the same trades hash.

    \b
    Examples:
      pairflow backtest --spreads ETH/SOL,BTC/ETH --from 2024-09-01 --to 2024-10-01
      pairflow backtest --spreads ETH/SOL --data prices.csv --fill next_open --report report.html
      pairflow backtest --spreads ETH/SOL --fill book --latency-ms 200
    """
    settings = load_settings(config)
    start_logging(settings)
    spec = BacktestSpec.checked(settings, spreads=spreads, sources=data or ["store"], start=start, end=end, fill=fill,
                                latency_ms=latency_ms, taker_fee=taker_fee, mode=mode, units=units, window=window,
                                no_costs=no_costs, vectorised=vectorised)
    swept = parse_sweep(sweep) if sweep is not None else None
    console = Console(stderr=True)
    store = connect(settings.storage)
    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        store.init_schema()
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("replay", total=None)
            outcome = run_and_store(settings, store, spec, save=save, sweep=swept,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        store.close()
    result, rid, runs = outcome.result, outcome.run_id, outcome.sweep
    print_summary(Console(), result, rid, outcome.problems)
    if runs:
        print_sweep(Console(), runs)
    if report is not None:
        write_report(report, result, f"pairflow backtest {rid}: {', '.join(spec.pairs)}",
                     [(params, _sharpe_or_floor(run)) for params, run in runs], "parameter sensitivity: Sharpe per run")
        console.print(f"report: {report}")


@dataclass(frozen=True)
class BacktestSpec:
    """What to replay and how: the options of `pairflow backtest`, checked, shared with launches from the API."""

    pairs: list[str]
    legs: list[tuple[str, ...]]
    sources: list[str]
    start_ms: int | None
    end_ms: int | None
    fill: str = "close"
    latency_ms: int = 0
    taker_fee: float | None = None
    mode: str = "spread"
    units: float = 1.0
    window: int | None = None
    no_costs: bool = False
    vectorised: bool = False

    @classmethod
    def checked(cls, settings: Settings, *, spreads: str | None, sources: list[str], start: str | None,
                end: str | None, **options: Any) -> BacktestSpec:
        """Return the spec, or raise `ConfigError` naming the option that is wrong."""
        mode, fill = options.get("mode", "spread"), options.get("fill", "close")
        if mode not in MODES:
            raise ConfigError(f"--mode {mode!r} must be one of {', '.join(MODES)}")
        if mode == "recorded" and sources != ["store"]:
            raise ConfigError("--mode recorded replays the signals stored in the store: use --data store")
        if fill not in ("close", "next_open", "book"):
            raise ConfigError(f"--fill {fill!r} must be 'close', 'next_open' or 'book'")
        pairs, legs = parse_spreads(spreads, settings)
        if options.get("vectorised"):
            check_vectorised(settings, legs, mode=mode, fill=fill, latency_ms=options.get("latency_ms", 0),
                             taker_fee=0.0 if options.get("no_costs") else options.get("taker_fee"))
        return cls(pairs, legs, sources, parse_time(start, "--from"), parse_time(end, "--to"), **options)


@dataclass(frozen=True)
class BacktestOutcome:
    """A finished run: its result, stored id (or "(not saved)"), data problems and the sweep's runs."""

    result: BacktestResult
    run_id: str
    problems: list[str]
    sweep: list[tuple[dict[str, Any], BacktestResult]]


def run_and_store(settings: Settings, store: Store, spec: BacktestSpec, *, save: bool = True, name: str = "",
                  progress: Callable[[int, int], None] | None = None,
                  sweep: tuple[str, list[float | int]] | None = None) -> BacktestOutcome:
    """Run ``spec`` on a copy of ``settings`` (the run fits it to the data), then the ``sweep``'s runs if given.

    ``progress(done, total)`` is told the replay steps of the main run now
    and then; it and its trades and equity curve are stored unless ``save``
    is off, named ``name`` (default: its spreads).
    """
    settings = settings.model_copy(deep=True)
    coins = sorted({coin for spread in spec.legs for coin in spread})
    recording = load_recording(settings, store, spec.sources, coins, spec.start_ms, spec.end_ms,
                               depth=spec.fill == "book")
    problems = [problem.describe() for problem in recording.problems]
    total = 1 if spec.vectorised else sum(1 for _ in replay(recording))  # the vectorised path has no steps
    if progress is not None:
        progress(0, total)
    taker_fee = spec.taker_fee
    if spec.no_costs:
        taker_fee, recording.funding = 0.0, []
    session = None
    if spec.mode == "recorded":
        signals, session = load_session(store, spec.pairs, start_ms=spec.start_ms, end_ms=spec.end_ms)
        factory = recorded_factory(signals)
    else:
        factory = strategy_factory(spec.mode, units=spec.units, window=spec.window)

    def run(chosen: Settings, steps: Callable[[int], None] | None = None) -> BacktestResult:
        if spec.vectorised:
            return run_vectorised(chosen, recording, spec.legs, taker_fee=taker_fee,  # type: ignore[arg-type]
                                  window=spec.window, units=spec.units)
        return run_backtest(chosen, recording, spec.legs, fill=spec.fill, taker_fee=taker_fee,  # type: ignore[arg-type]
                            latency_ms=spec.latency_ms, progress=steps, strategy_factory=factory, session=session)

    result = run(settings, None if progress is None else lambda done: progress(done, total))
    if progress is not None:
        progress(total, total)
    runs = run_sweep(settings, *sweep, run) if sweep is not None else []
    run_config = json.dumps({"strategy": settings.strategy.model_dump(mode="json"),
                             "execution": settings.execution.model_dump(mode="json"),
                             "fill": spec.fill, "latency_ms": spec.latency_ms, "taker_fee": taker_fee,
                             "mode": spec.mode, "units": spec.units, "window": spec.window,
                             "no_costs": spec.no_costs, "vectorised": spec.vectorised}, sort_keys=True)
    rid = store_run(store, result, name=name or ",".join(spec.pairs), config=run_config, data=",".join(spec.sources),
                    fill_mode=spec.fill, problems=problems) if save else "(not saved)"
    return BacktestOutcome(result, rid, problems, runs)


def _sharpe_or_floor(result: BacktestResult) -> float:
    """Plot an undefined Sharpe (no trades, no variance) at -10, as the optimiser scores it."""
    value = result.metrics.sharpe if result.metrics is not None else None
    return -10.0 if value is None else value


def parse_spreads(spreads: str | None, settings: Settings) -> tuple[list[str], list[tuple[str, ...]]]:
    """Return the spread names and legs from --spreads (else strategy.pairs); one line for a bad one."""
    pairs = [p.strip() for p in spreads.split(",") if p.strip()] if spreads is not None else settings.strategy.pairs
    if not pairs:
        raise ConfigError("no spreads: give --spreads ETH/SOL,... or set strategy.pairs")
    legs = [tuple(pair.split("/")) for pair in pairs]
    if any(len(spread) < 2 or not all(spread) for spread in legs):
        raise ConfigError(f"--spreads {','.join(pairs)!r}: each spread names two or more coins joined by '/'")
    return pairs, legs


def load_recording(settings: Settings, store: Store, sources: list[str], coins: list[str], lo: int | None,
                   hi: int | None, depth: bool = False) -> Recording:
    """Read the recording from the store or the files named, and fit the strategy settings to its interval.

    ``depth`` (book fills) also reads the recorded books and trades (the store's, or book and trade files).
    """
    if sources == ["store"]:
        recording = load_store(store, settings.strategy.bar_interval, coins, start_ms=lo, end_ms=hi, depth=depth)
    else:
        missing = [name for name in sources if name == "store" or not Path(name).is_file()]
        if missing:
            raise ConfigError(f"--data {missing[0]!r}: give 'store' alone or existing CSV/Parquet files")
        recording = load_files([Path(name) for name in sources], coins, start_ms=lo, end_ms=hi, depth=depth)
    _fit_to_interval(settings.strategy, recording.interval_ms, recording.interval)
    return recording


def _fit_to_interval(strategy: StrategySettings, interval_ms: int, interval: str) -> None:
    """Read the recording's bars; staleness and gap limits not set in the config scale with its interval."""
    strategy.bar_interval = interval
    if "staleness_ms" not in strategy.model_fields_set:
        strategy.staleness_ms = 3 * interval_ms
    if "max_gap_ms" not in strategy.model_fields_set:
        strategy.max_gap_ms = 10 * interval_ms


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command to the pairflow CLI."""
    app.command("backtest")(backtest)
