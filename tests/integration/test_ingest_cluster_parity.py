"""A 2-process ingest cluster publishes on md.bars exactly what one process publishes: every version, first ones too.

The strategy trades a bar's first version and refuses corrections, so the first
versions must not depend on how the stage is scaled or how fast it reads. The
same recorded tape (3 coins, trades up to 1.5 s out of order, 1% of them 5-20 s
late, duplicates, ETH books) goes to two brokers: one process reads it as
`pairflow run ingest` does, the cluster reads it through readers that cut
md.trades into batches of 250 and then stall each partition for 4.5 s of wall
time while its backlog waits (`tests.support.staggered_ingest`, the same way
every run: what a member starved of CPU does at random). Before the fix the
cluster's bars differed in two ways: a late trade in the batch that closed its
bar went out inside the first version (batch cuts decided it), and a stalled
reader's coins were closed on the wall clock as if the market had gone quiet.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pairflow.events import Bar
from tests.bars_reference import batch_bars
from tests.broker import TansuBroker
from tests.helpers import free_port
from tests.integration.ingest_support import (
    BAR_COLUMNS, create_topics, make_tape, produce, published_bar_versions, start_pairflow,
)

pytestmark = pytest.mark.broker

TRADES = 12_000


def first_difference(one: list[Bar], two: list[Bar]) -> str:
    for index, (a, b) in enumerate(zip(one, two, strict=False)):
        if a != b:
            return f"version {index}: {a.id} with {a.trades} trades on 1 process, {b.id} with {b.trades} on 2"
    return f"{len(one)} versions on 1 process, {len(two)} on 2"


def run_ingest(workdir: Path, broker: TansuBroker, *arguments: str, module: str = "app"):
    workdir.mkdir()
    head = ("run", "ingest") if module == "app" else ("ingest",)
    return start_pairflow(workdir, *head, "--brokers", broker.bootstrap_servers, "--dead-letter-dir",
                          str(workdir / "dead"), *arguments, module=module)


def test_a_stalling_two_process_cluster_publishes_the_bars_of_one_process(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    tape = make_tape(TRADES, seed=11, with_junk=False)
    create_topics(tansu_broker_fn)
    produce(tansu_broker_fn, tape.messages)
    single = run_ingest(tmp_path / "one", tansu_broker_fn, "--until-end")
    with TansuBroker(log_path=tmp_path / "broker-cluster.log") as other:
        create_topics(other)
        produce(other, tape.messages)
        addresses = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
        members = [run_ingest(tmp_path / f"member-{index}", other, "--cluster", addresses, "-i", str(index),
                              module="tests.support.staggered_ingest") for index in (0, 1)]
        codes = [process.wait(timeout=120) for process in (single, *members)]
        assert codes == [0, 0, 0], f"exit codes {codes}: see {tmp_path}/*/run.log and ingest.log"
        cluster = published_bar_versions(other)
    one = published_bar_versions(tansu_broker_fn)
    stalls = "".join((tmp_path / f"member-{index}" / "stalls.log").read_text()
                     for index in (0, 1) if (tmp_path / f"member-{index}" / "stalls.log").exists())
    # Both md.trades partitions stalled with most of their backlog still waiting.
    assert stalls.count("-md.trades stalled") == 2, stalls

    assert cluster.keys() == one.keys() == {"BTC", "ETH", "SOL"}
    for coin in one:
        assert cluster[coin] == one[coin], f"{coin}: {first_difference(one[coin], cluster[coin])}"
    # Late trades corrected bars already published, so more than first versions were compared,
    # and the newest versions are the bars of the unique trades.
    assert sum(len(bars) for bars in one.values()) > len({bar.id for bars in one.values() for bar in bars})
    newest = {bar.id: tuple(getattr(bar, column.strip()) for column in BAR_COLUMNS.split(",")[1:])
              for bars in one.values() for bar in bars}
    assert newest == batch_bars(tape.trades, (1_000, 60_000))
