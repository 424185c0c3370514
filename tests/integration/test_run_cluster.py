"""``pairflow run strategy`` as a real 2-process Bytewax cluster gives the signals of one process.

Each run reads the same bars from its own tansu broker, so their pf.signals can
be compared whole; the store-writer then stores the cluster's signals once.
The bars are what ingest publishes, corrections included, and each broker
holds them as a differently scaled ingest would: both legs in one partition,
interleaved another way (one or two ingest processes write md.bars at their
own pace). A correction arriving while its first version was still held for
the other leg once made the signals differ (458 vs 464 in a benchmark).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.commands.run import parse_cluster
from pairflow.errors import ConfigError
from pairflow.events import Bar, Signal, encode
from pairflow.storage import connect
from pairflow.topics import TopicSpec, ensure_topics
from tests.broker import TansuBroker, consume_all
from tests.helpers import free_port
from tests.integration.ingest_support import chdb_settings, produce, start_pairflow
from tests.integration.strategy_cli_support import LEGS, STRATEGY_ENV, signals_by_hand, strategy_bars
from tests.strategy_support import cointegrated_bars, corrected_legs, in_time_order, interleave

pytestmark = pytest.mark.broker

# Legs are held for each other longer than the whole input, so how partitions interleave never matters.
ENV = {**STRATEGY_ENV, "PAIRFLOW_STRATEGY__REORDER_MS": str(300 * 60_000)}


def run_strategy(tmp_path: Path, broker: TansuBroker, *arguments: str):
    tmp_path.mkdir(exist_ok=True)
    return start_pairflow(
        tmp_path, "run", "strategy", "--pairs", "/".join(LEGS), "--brokers", broker.bootstrap_servers,
        "--until-end", "--dead-letter-dir", str(tmp_path / "dead"), *arguments, extra_env=ENV,
    )


def published_signals(broker: TansuBroker, expected: int) -> list[Signal]:
    return sorted(
        (msgspec.json.decode(message.value(), type=Signal) for message in consume_all(broker, "pf.signals", expected)),
        key=lambda signal: signal.id,
    )


def bars_topic(broker: TansuBroker, bars: list[Bar]) -> list[tuple[str, bytes, bytes]]:
    """Create the strategy's topics, md.bars with one partition for both legs; return ``bars`` as its messages."""
    ensure_topics(broker.admin(), [TopicSpec("md.bars", 1)])
    strategy_bars(broker, 0, seed=0)
    return [("md.bars", bar.coin.encode(), encode(bar)) for bar in bars]


def second_leg_ahead(queues: list[list[Bar]]) -> list[Bar]:
    """Let the last leg run up to 5 bars ahead of the first, for `interleave`."""
    return queues[-1] if queues[-1][0].ts <= queues[0][0].ts + 5 * 60_000 else queues[0]


def test_two_process_cluster_gives_the_signals_of_one_process(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    sequences = corrected_legs(cointegrated_bars(LEGS, 200, seed=41))
    messages = bars_topic(tansu_broker_fn, interleave(sequences, in_time_order))
    expected = sorted(signals_by_hand(messages), key=lambda signal: signal.id)
    assert len(expected) >= 5, "too few signals to compare"
    produce(tansu_broker_fn, messages)
    single = run_strategy(tmp_path / "one", tansu_broker_fn)

    with TansuBroker(log_path=tmp_path / "broker-cluster.log") as other:
        produce(other, bars_topic(other, interleave(sequences, second_leg_ahead)))
        addresses = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
        # One recovery directory for the cluster: both members create it at once (a lock decides).
        members = [run_strategy(tmp_path / "two", other, "--cluster", addresses, "-i", str(index), "-w", "1",
                                "--recovery-dir", str(tmp_path / "recovery"), "--snapshot-interval", "0.5")
                   for index in (0, 1)]
        codes = [process.wait(timeout=120) for process in (single, *members)]
        assert codes == [0, 0, 0], [(path / "run.log").read_text()[-2_000:] for path in (tmp_path / "one",
                                                                                          tmp_path / "two")]
        one = published_signals(tansu_broker_fn, len(expected))
        two = published_signals(other, len(expected))
        assert two == one == expected

        writer = start_pairflow(tmp_path / "two", "run", "store-writer", "--brokers", other.bootstrap_servers,
                                "--until-end", "--dead-letter-dir", str(tmp_path / "dead"))
        assert writer.wait(timeout=120) == 0, (tmp_path / "two" / "run.log").read_text()[-2_000:]
    with connect(chdb_settings(tmp_path / "two")) as store:
        rows = store.query("SELECT id, count() FROM signals_v GROUP BY id ORDER BY id")
    assert [(row[0], int(row[1])) for row in rows] == [(signal.id, 1) for signal in expected]


@pytest.mark.parametrize(
    ("addresses", "process_id", "message"),
    [
        ("127.0.0.1:2101,127.0.0.1:2102", 2, "0 to 1, received 2"),
        ("127.0.0.1:2101,127.0.0.1:2102", None, "0 to 1, received None"),
        ("127.0.0.1:2101,nohost", 0, "received 'nohost'"),
        ("127.0.0.1:99999", 0, "received '127.0.0.1:99999'"),
        (None, 1, "needs --cluster"),
    ],
)
def test_cluster_options_are_checked_in_one_line(addresses: str | None, process_id: int | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_cluster(addresses, process_id)


@given(st.text(max_size=40) | st.none(), st.integers(min_value=0, max_value=5) | st.none())
def test_any_cluster_option_is_accepted_whole_or_refused_in_one_line(addresses: str | None, process_id) -> None:
    try:
        hosts, index = parse_cluster(addresses, process_id)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    if hosts is None:
        assert index is None and process_id in (None, 0)
    else:
        assert 0 <= index < len(hosts) and all(host.rpartition(":")[2].isdigit() for host in hosts)
