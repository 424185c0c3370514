"""Prometheus helpers: idempotent metric constructors and the /metrics endpoint.

Metric names follow ``pairflow_<area>_<what>_<unit|total>``. The constructors
return the already-registered metric when called again with the same name, so
modules can be re-imported (tests, reloads) without duplicate-registration errors.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["counter", "gauge", "histogram", "serve_metrics", "stop_metrics"]

_LOCK = threading.Lock()
_METRICS: dict[str, Counter | Gauge | Histogram] = {}
_SERVERS: dict[int, tuple[WSGIServer, threading.Thread]] = {}


def counter(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
    """Return the counter ``name`` (without the ``_total`` suffix), creating it once."""
    return _get_or_create(Counter, name, documentation, labelnames)


def gauge(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
    """Return the gauge ``name``, creating it once."""
    return _get_or_create(Gauge, name, documentation, labelnames)


def histogram(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    """Return the histogram ``name``, creating it once."""
    return _get_or_create(Histogram, name, documentation, labelnames, buckets=tuple(buckets))


def _get_or_create(kind: type, name: str, documentation: str, labelnames: Sequence[str], **extra):
    with _LOCK:
        metric = _METRICS.get(name)
        if metric is None:
            metric = _METRICS[name] = kind(name, documentation, labelnames=tuple(labelnames), **extra)
        elif not isinstance(metric, kind):
            raise ValueError(f"metric {name} is already registered as a {type(metric).__name__}")
        return metric


def serve_metrics(port: int, host: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY) -> int:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread and return the bound port.

    Parameters
    ----------
    port
        Port to bind; 0 binds a free ephemeral port (tests). Callers honour the
        config convention "``metrics.port = 0`` means off" by not calling this.
    host
        Interface to bind.
    registry
        Registry to expose.
    """
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = server.server_address[1]
    with _LOCK:
        _SERVERS[bound] = (server, thread)
    return bound


def stop_metrics(port: int) -> None:
    """Stop the /metrics server bound to ``port`` by `serve_metrics`."""
    with _LOCK:
        entry = _SERVERS.pop(port, None)
    if entry is not None:
        server, thread = entry
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
