"""`prepare_topics`, every broker stage's first contact with the broker: topics made once, a dead broker is one line."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairflow.config import BrokerSettings
from pairflow.errors import PairflowError
from pairflow.topics import prepare_topics
from tests.broker import TansuBroker


def closed_port() -> int:
    """Return a localhost port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_topics_are_created_once_on_a_running_broker(tansu_broker: TansuBroker) -> None:
    broker = BrokerSettings(bootstrap_servers=tansu_broker.bootstrap_servers, partitions=2)
    names = ("md.trades", "md.bars")
    created = prepare_topics(broker, names)
    assert set(created) <= set(names)
    listed = tansu_broker.admin().list_topics(timeout=10).topics
    assert all(len(listed[name].partitions) == 2 for name in names)
    assert prepare_topics(broker, names) == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(servers=st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.builds(lambda host: f"{host}:{closed_port()}", st.sampled_from(["127.0.0.1", "localhost", "[::1]"])),
))
def test_a_broker_that_does_not_answer_is_one_line_naming_it(servers: str) -> None:
    """`pairflow run STAGE`, `ingest`, `strategy` and `alertmanager relay` printed confluent-kafka's traceback here."""
    with pytest.raises(PairflowError) as raised:
        prepare_topics(BrokerSettings(bootstrap_servers=servers), ("md.trades",), timeout_s=0.2)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("cannot reach the broker at ")
    assert "Failed to get metadata" in message and raised.value.exit_code == 1
