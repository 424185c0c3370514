"""A shipped rule pages end to end: a real collector's counter, scraped by Prometheus, fires at Alertmanager.

The collector runs in this process against the venue over real HTTP/WebSocket, through a TCP proxy the test
cuts; this process serves /metrics, Debian's Prometheus scrapes it with the rules of infra/prometheus and
sends what fires to Debian's Alertmanager.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from pairflow.metrics import serve_metrics, stop_metrics
from sources.collector import Collector
from tests.helpers import eventually, free_port
from tests.integration.venue_support import RunningCollector, TcpProxy, collector_settings, serve_venue, subscribed
from tests.observability.stack import prometheus_query, prometheus_server
from tests.observability.support import alertmanager


def _firing(alertmanager_url: str, name: str) -> dict:
    with urllib.request.urlopen(f"{alertmanager_url}/api/v2/alerts", timeout=5) as response:
        alerts = [alert for alert in json.load(response) if alert["labels"]["alertname"] == name]
    assert alerts, f"{name} has not reached Alertmanager"
    return alerts[0]


def test_a_websocket_that_keeps_dropping_pages_as_a_reconnect_storm(tmp_path: Path):
    alertmanager_port, metrics_port = free_port(), free_port()
    serve_metrics(metrics_port)
    try:
        with (serve_venue() as (_engine, url, clock, _tape), alertmanager(alertmanager_port, tmp_path / "am") as am_url,
              prometheus_server(tmp_path, {"pairflow-collect": metrics_port}, alertmanager_port) as prometheus_url):
            proxy = TcpProxy(int(url.rsplit(":", 1)[1]))
            proxy.start()
            collector = Collector(lambda *event: None, collector_settings(f"http://127.0.0.1:{proxy.port}"),
                                  clock=clock)
            running = RunningCollector(collector)
            try:
                eventually(lambda: subscribed(collector), timeout=20)
                # The counter's value before the storm is scraped first, so increase() sees it rise.
                eventually(lambda: prometheus_query(prometheus_url, "pairflow_collector_reconnects_total",
                                                    time.time())["result"], timeout=30, interval=0.5)
                assert not prometheus_query(prometheus_url, 'ALERTS{alertname="PairflowCollectorReconnectStorm"}',
                                            time.time())["result"]
                proxy.cut()  # every reconnect attempt is refused now
                eventually(lambda: collector.session.reconnects >= 6, timeout=30)
                alert = eventually(lambda: _firing(am_url, "PairflowCollectorReconnectStorm"), timeout=60,
                                   interval=0.5)
            finally:
                running.stop()
                proxy.cut()
    finally:
        stop_metrics(metrics_port)
    assert alert["labels"]["job"] == "pairflow-collect" and alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["summary"].startswith("Collector reconnected")
