"""The two Grafana data sources every pairflow dashboard uses, and their provisioning file.

Panels reference data sources by UID, and the provisioning file creates
them with the same UIDs, so exported dashboards import without edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CLICKHOUSE", "PROMETHEUS", "ClickHouseAccess", "datasource_provisioning"]

PROMETHEUS: dict[str, str] = {"type": "prometheus", "uid": "pairflow-prometheus"}
CLICKHOUSE: dict[str, str] = {"type": "grafana-clickhouse-datasource", "uid": "pairflow-clickhouse"}


@dataclass(frozen=True)
class ClickHouseAccess:
    """How Grafana reaches the ClickHouse server (Grafana cannot read an embedded chDB directory)."""

    host: str = "127.0.0.1"
    port: int = 9000
    protocol: str = "native"
    username: str = "default"
    database: str = "default"


def datasource_provisioning(prometheus_url: str, clickhouse: ClickHouseAccess) -> dict[str, Any]:
    """Return Grafana's datasource provisioning document (``provisioning/datasources/*.yaml``).

    The ClickHouse password is read by Grafana from ``PAIRFLOW_STORAGE__PASSWORD``
    in its environment, the variable pairflow itself uses, so no secret is
    written to disk.
    """
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "pairflow Prometheus",
                "type": PROMETHEUS["type"],
                "uid": PROMETHEUS["uid"],
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
            },
            {
                "name": "pairflow ClickHouse",
                "type": CLICKHOUSE["type"],
                "uid": CLICKHOUSE["uid"],
                "editable": False,
                "jsonData": {
                    "host": clickhouse.host,
                    "port": clickhouse.port,
                    "protocol": clickhouse.protocol,
                    "username": clickhouse.username,
                    "defaultDatabase": clickhouse.database,
                },
                "secureJsonData": {"password": "$__env{PAIRFLOW_STORAGE__PASSWORD}"},
            },
        ],
    }
