"""The venue's WebSocket drops under a running collector: it reconnects and every trade reaches md.trades once.

The collector talks to the local venue over real HTTP/WebSocket through a TCP proxy that cuts every
connection (and refuses new ones) for a while, publishing through the idempotent producer into the
tansu broker. Trades made while the link is down are recovered from the venue's replay on
resubscribe (its 10 latest trades, so the test makes fewer than that during the outage); trades
replayed that were already delivered must not be published twice.
"""

from __future__ import annotations

import time

import pytest

from pairflow.config import BrokerSettings
from pairflow.events import Trade, decode
from sinks.kafka import KafkaSink
from sources.collector import Collector
from tests.broker import TansuBroker, consume_all
from tests.helpers import eventually
from tests.integration.venue_support import RunningCollector, TcpProxy, collector_settings, make_trades
from tests.integration.venue_support import serve_venue, subscribed
from tests.reliability.support import record

pytestmark = pytest.mark.broker


def test_a_dropped_venue_websocket_loses_and_repeats_no_trade(tansu_broker_fn: TansuBroker) -> None:
    sink = KafkaSink(BrokerSettings(bootstrap_servers=tansu_broker_fn.bootstrap_servers, partitions=2),
                     topics=("md.trades",))
    with serve_venue() as (engine, url, clock, tape):
        proxy = TcpProxy(int(url.rsplit(":", 1)[1]))
        proxy.start()
        collector = Collector(sink.emit, collector_settings(f"http://127.0.0.1:{proxy.port}"), clock=clock)
        running = RunningCollector(collector)
        try:
            eventually(lambda: subscribed(collector))
            made = make_trades(engine, tape, 6)
            eventually(lambda: collector.out.events_out["md.trades"] >= 6)
            proxy.cut()
            eventually(lambda: collector.session.reconnects >= 1)
            made += make_trades(engine, tape, 7)
            proxy.start()
            restored = time.monotonic()
            eventually(lambda: subscribed(collector, times=2), timeout=15)
            made += make_trades(engine, tape, 3)
            eventually(lambda: collector.out.events_out["md.trades"] >= len(made), timeout=15)
            recovery_s = time.monotonic() - restored
        finally:
            running.stop()
            proxy.cut()
    assert sink.flush(20) == 0
    sink.close()
    expected = {f"ETH:{trade['tid']}" for trade in made}
    published = [decode(message.value(), Trade).id
                 for message in consume_all(tansu_broker_fn, "md.trades", len(made), timeout=15)]
    lost, duplicated = len(expected - set(published)), len(published) - len(set(published))
    assert set(published) <= expected
    record("venue WebSocket drop under collect", len(made), lost, duplicated, recovery_s)
