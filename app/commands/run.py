"""``pairflow run STAGE``: one process of a stage in distributed mode, alone or as one member of a Bytewax cluster.

In distributed mode every stage is its own dataflow between topics, and only
the ``store-writer`` stage opens the store: chDB admits one process per data
directory, so ``ingest``, ``strategy`` and ``execution`` here publish and
store nothing themselves (`flows.store_writer`). Each stage scales as a Bytewax cluster:
``-w`` worker threads in each of the processes listed by ``--cluster``, this
one being number ``-i``; topic partitions are spread over all their workers.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TextIO

import typer
from bytewax.dataflow import Dataflow
from eth_account import Account

from app.commands.keys import require_network, unlock_keystore
from app.options import ConfigOption, usable_directory
from app.runners.until_stopped import run_until_stopped
from flows.ingest import LOG_START, IngestRun, ingest_dataflow, prepare_recovery, tune_gc_for_throughput
from flows.store_writer import STORED_TOPICS, store_writer_dataflow
from pairflow.config import Settings, load_settings
from pairflow.errors import ConfigError
from pairflow.events import MARKET_TOPICS, TOPIC_OF, Bar, BookSnapshot, Signal
from pairflow.logs import get_logger, start_logging
from pairflow.metrics import serve_metrics
from pairflow.storage import connect
from pairflow.topics import prepare_topics
from sources.kafka_source import market_data_source
from sources.time_ordered_source import ORDER_WINDOW, time_ordered_source

__all__ = ["STAGES", "parse_cluster", "register"]

log = get_logger(__name__)

STAGES = ("ingest", "strategy", "execution", "store-writer")
# Stages that run as one process: the store-writer alone opens the store, and execution holds one account's
# nonce counter and cloid journal.
_SINGLE_PROCESS = ("execution", "store-writer")
_PAIRS_HELP = "strategy: spreads to trade, e.g. ETH/SOL; default: strategy.pairs (the store is not read)."


def parse_cluster(addresses: str | None, process_id: int | None) -> tuple[list[str] | None, int | None]:
    """Return the cluster's ``host:port`` list and this process's index, checked; ``(None, None)`` for one process.

    Raises
    ------
    ConfigError
        On an empty or port-less address, or a process id outside the list.

    Examples
    --------
    >>> parse_cluster("10.0.0.1:2101,10.0.0.2:2101", 1)
    (['10.0.0.1:2101', '10.0.0.2:2101'], 1)
    >>> parse_cluster(None, None)
    (None, None)
    """
    if addresses is None:
        if process_id not in (None, 0):
            raise ConfigError(f"--process-id {process_id} needs --cluster, the address of every process")
        return None, None
    hosts = [address.strip() for address in addresses.split(",")]
    for host in hosts:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--cluster {addresses!r}: each address must be HOST:PORT, received {host!r}")
    if process_id is None or not 0 <= process_id < len(hosts):
        raise ConfigError(
            f"--process-id must be this process's index in --cluster, 0 to {len(hosts) - 1}, received {process_id}"
        )
    return hosts, process_id


def run(
    stage: Annotated[str, typer.Argument(help="ingest, strategy, execution or store-writer.", show_default=False)],
    brokers: Annotated[
        str | None, typer.Option("--brokers", help="Broker addresses HOST:PORT[,HOST:PORT]; default: broker settings.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Bytewax worker threads per process.")] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            "--addresses",
            "-a",
            help="HOST:PORT of every process of this stage's cluster, comma-separated, the same list in each.",
        ),
    ] = None,
    process_id: Annotated[
        int | None, typer.Option("--process-id", "-i", min=0, help="This process's index in --cluster.")
    ] = None,
    pairs: Annotated[str | None, typer.Option("--pairs", help=_PAIRS_HELP)] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="execution: venue base URL, testnet or mainnet; default: collector.url.")
    ] = None,
    keystore: Annotated[
        Path | None,
        typer.Option("--keystore", help="execution: keystore of the signing (agent) key; default: secrets.keystore_path."),
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="execution: account traded; default: the signer's.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="execution: cloid and spread journals, kill file, pause file; default: data/execution."
        ),
    ] = None,
    mainnet: Annotated[bool, typer.Option("--mainnet", help="execution: required to trade on mainnet.")] = False,
    recovery_dir: Annotated[
        Path | None,
        typer.Option(
            "--recovery-dir",
            help="Bytewax recovery snapshots, shared by every process of the cluster; resume from it after a crash. "
            "Another stage's directory is refused.",
        ),
    ] = None,
    snapshot_interval: Annotated[
        float, typer.Option("--snapshot-interval", min=0.05, help="Seconds between recovery snapshots (and epochs).")
    ] = 2.0,
    dead_letter_dir: Annotated[
        Path, typer.Option("--dead-letter-dir", help="Where rejected records are written as JSON lines.")
    ] = Path("data/dead-letters"),
    until_end: Annotated[
        bool, typer.Option("--until-end", help="Stop once every topic partition has been read.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Run one process of STAGE between topics: ingest (md.* to md.bars and md.books), strategy (md.bars to
    pf.signals), execution (pf.signals and market topics to orders on --url, its events to pf.*) or
    store-writer (every event topic into the store, the only stage that opens it).

    Start the same command once per process of a cluster with the same
    --cluster list and each its own --process-id. A cluster runs whole: when
    one process dies the others stop with an error; start them all again and
    they resume from the shared --recovery-dir. Ctrl-C or SIGTERM stops a
    process cleanly (exit 0): one process first finishes and stores its
    current epoch; a cluster member ends at once, and the members still
    running then stop as for a lost one. The store-writer runs as one
    process (chDB admits one), with as many --workers as it needs; execution
    runs as one process of one worker per signing key (one desk, one nonce
    counter, one cloid journal): --cluster or -w 2 with it exits 2, and so
    does a second execution of the account on the same --data-dir.
    Execution keeps its cloid and spread journals in --data-dir (each line
    synced to the disk before the send when the execution setting
    journal_fsync is true, so an OS crash or power loss keeps them too):
    after a restart it sends no order twice (every order expires order_lifetime_s
    after its send, 10 s by default; a journaled cloid goes out again only
    when the exchange, asked by that cloid after its expiry, never received
    it, so a copy still in flight is refused), and it adopts
    the spreads an earlier run left open with the same code as `pairflow trade`.

    \b
    Examples:
      pairflow run ingest --brokers 127.0.0.1:9092 --recovery-dir data/recovery/ingest
      pairflow run strategy --pairs ETH/SOL -w 2 --cluster host1:2101,host2:2101 -i 0
      pairflow run store-writer --brokers 127.0.0.1:9092
    """
    if stage not in STAGES:
        raise ConfigError(f"STAGE must be one of {', '.join(STAGES)}, received {stage!r}")
    addresses, process = parse_cluster(cluster, process_id)
    settings = load_settings(config)
    if stage in _SINGLE_PROCESS and addresses is not None and len(addresses) > 1:
        raise ConfigError(f"{stage} runs as one process (the store-writer alone opens the store; execution holds "
                          "one account's nonces and cloid journal)")
    if stage == "execution" and workers > 1:
        raise ConfigError(f"execution runs as one worker (one desk nets and sizes every spread of the account), "
                          f"received --workers {workers}")
    execution_only = {"--url": url, "--keystore": keystore, "--account": account, "--data-dir": data_dir,
                      "--mainnet": mainnet or None}
    given = [name for name, value in execution_only.items() if value is not None]
    if stage != "execution" and given:
        raise ConfigError(f"only the execution stage takes {', '.join(given)} (where and as whom it trades), "
                          f"received for {stage}")
    if stage != "store-writer" and settings.logging.to_clickhouse:
        raise ConfigError(f"logging.to_clickhouse opens the store, which only the store-writer does; unset it for {stage}")
    usable_directory(dead_letter_dir, "--dead-letter-dir")
    recovery = None
    if recovery_dir is not None:
        usable_directory(recovery_dir, "--recovery-dir")
        recovery = prepare_recovery(recovery_dir, f"pairflow run {stage}")
    if stage == "strategy":
        # Each stage imports its own flow where it builds it: the strategy's (river, statsmodels) and
        # execution's (the desk, the API) cost seconds of CPU that an ingest or store-writer start never uses.
        from app.commands.strategy import apply_pairs_option

        apply_pairs_option(settings, pairs)
    elif pairs is not None:
        raise ConfigError("--pairs chooses the strategy's spreads: it applies to the strategy stage only")
    brokers = brokers or settings.broker.bootstrap_servers
    settings.broker = settings.broker.model_copy(update={"bootstrap_servers": brokers})
    start_logging(settings)
    tune_gc_for_throughput()
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    total_workers = workers * (len(addresses) if addresses else 1)
    lock = None
    # One process ends its input on Ctrl-C and finishes the epoch. A cluster member cannot: the flow goes on
    # while the other members read, so it ends at once (the others then stop as for a lost member).
    stop = threading.Event() if addresses is None or len(addresses) == 1 else None
    if stage == "execution":
        flow, lock = _execution_flow(settings, url, keystore, account, data_dir or Path("data/execution"), mainnet,
                                     tail=not until_end, stop=stop)
    else:
        flow = _stage_flow(stage, settings, dead_letter_dir, total_workers, tail=not until_end, stop=stop)
    log.info("stage starting", stage=stage, brokers=brokers, workers=workers, process=process, cluster=addresses)
    try:
        run_until_stopped(
            flow, workers, timedelta(seconds=snapshot_interval), recovery, process_id=process, addresses=addresses,
            stop=stop,
        )
    finally:
        if lock is not None:
            lock.close()


def _stage_flow(stage: str, settings: Settings, dead_letter_dir: Path, workers: int, *, tail: bool,
                stop: threading.Event | None):
    brokers = settings.broker.bootstrap_servers.split(",")
    if stage == "ingest":
        prepare_topics(settings.broker, (*MARKET_TOPICS, TOPIC_OF[Bar], TOPIC_OF[BookSnapshot]))
        source = market_data_source(brokers, tail=tail, stop=stop, report_progress=True)
        return ingest_dataflow(settings, source, dead_letter_dir, workers=workers, publish_bars=True, store=False,
                               run=IngestRun(seeds=LOG_START))
    if stage == "strategy":
        from flows.strategy import STRATEGY_TOPICS, resolve_spreads, strategy_dataflow

        spreads = resolve_spreads(settings.strategy.pairs)
        if not spreads:
            raise ConfigError("no spreads to trade: pass --pairs or set strategy.pairs")
        prepare_topics(settings.broker, (*STRATEGY_TOPICS, TOPIC_OF[Signal]))
        source = time_ordered_source(brokers, STRATEGY_TOPICS, tail=tail, window=ORDER_WINDOW, stop=stop)
        return strategy_dataflow(settings, spreads, source, workers=workers, store=False)
    with connect(settings.storage) as store:
        store.init_schema()
    prepare_topics(settings.broker, STORED_TOPICS)
    source = market_data_source(brokers, STORED_TOPICS, tail=tail, stop=stop)
    return store_writer_dataflow(settings.storage, source, dead_letter_dir, workers=workers)


def _execution_flow(settings: Settings, url: str | None, keystore: Path | None, account: str | None, data_dir: Path,
                    mainnet: bool, *, tail: bool, stop: threading.Event | None) -> tuple[Dataflow, TextIO]:
    """Return the execution dataflow and the account's lock (`app.runners.trading.lock_account`), held while it runs."""
    from app.commands.trade import check_agent
    from app.runners.trading import desk_factory, lock_account
    from pairflow.control import Control
    from pairflow.pause_file import PAUSE_FILE
    from flows.execution import EXECUTION_INPUTS, EXECUTION_OUTPUTS, execution_dataflow

    base = require_network(url or settings.collector.url, mainnet)
    data_dir = usable_directory(data_dir.resolve(), "--data-dir")
    keystore = keystore or settings.secrets.keystore_path
    if keystore is None:
        raise ConfigError("execution needs the signing key: pass --keystore or set secrets.keystore_path")
    key = unlock_keystore(keystore, settings.secrets.keystore_passphrase)
    signer = Account.from_key(key).address
    account = account or signer
    check_agent(base, signer, account)
    lock = lock_account(data_dir, account)
    brokers = settings.broker.bootstrap_servers.split(",")
    prepare_topics(settings.broker, (*EXECUTION_INPUTS, *EXECUTION_OUTPUTS))
    # No API here: the controls only carry a pause file a kill or the drawdown stop writes (or `trade` left).
    build_desk = desk_factory(settings, base, key, account, data_dir, control=Control(pause_file=data_dir / PAUSE_FILE))
    source = time_ordered_source(brokers, EXECUTION_INPUTS, tail=tail, window=ORDER_WINDOW, stop=stop)
    return execution_dataflow(settings, source, build_desk), lock


def register(app: typer.Typer) -> None:
    """Add ``pairflow run`` to the CLI."""
    app.command("run")(run)
