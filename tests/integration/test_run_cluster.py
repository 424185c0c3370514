"""``pairflow run strategy`` as a real 2-process Bytewax cluster gives the signals of one process.

Each run reads the same bars from its own tansu broker, so their pf.signals can
be compared whole; the store-writer then stores the cluster's signals once.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.commands.run import parse_cluster
from pairflow.errors import ConfigError
from pairflow.events import Signal
from pairflow.storage import connect
from tests.broker import TansuBroker, consume_all
from tests.helpers import free_port
from tests.integration.ingest_support import chdb_settings, produce, start_pairflow
from tests.integration.strategy_cli_support import LEGS, STRATEGY_ENV, signals_by_hand, strategy_bars

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


def test_two_process_cluster_gives_the_signals_of_one_process(tansu_broker_fn: TansuBroker, tmp_path: Path) -> None:
    messages = strategy_bars(tansu_broker_fn, 200, seed=41)
    expected = sorted(signals_by_hand(messages), key=lambda signal: signal.id)
    assert len(expected) >= 5, "too few signals to compare"
    produce(tansu_broker_fn, messages)
    single = run_strategy(tmp_path / "one", tansu_broker_fn)

    with TansuBroker(log_path=tmp_path / "broker-cluster.log") as other:
        strategy_bars(other, 0, seed=41)
        produce(other, messages)
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
