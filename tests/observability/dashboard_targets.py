"""Walk the built dashboards for their queries, so tests name the dashboard, panel and file of each."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.export import all_dashboards
from dashboards.panels import ClickHouseTarget

__all__ = ["PanelQuery", "clickhouse_queries", "prometheus_queries"]


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel."""

    dashboard: str
    panel: str
    query: str
    sql_file: str = ""

    def where(self) -> str:
        """Name the query for an assertion message."""
        source = f"dashboards/sql/{self.sql_file}" if self.sql_file else "PromQL"
        return f"{self.dashboard} / {self.panel} ({source}): {self.query}"


def _targets():
    for dashboard in all_dashboards():
        for panel in dashboard.panels:
            for target in panel.targets:
                yield dashboard.title, panel.title, target


def clickhouse_queries() -> list[PanelQuery]:
    """Return every ClickHouse panel query with its SQL file."""
    return [
        PanelQuery(board, panel, target.raw_sql, target.sql_file)
        for board, panel, target in _targets()
        if isinstance(target, ClickHouseTarget)
    ]


def prometheus_queries() -> list[PanelQuery]:
    """Return every PromQL panel expression."""
    return [
        PanelQuery(board, panel, target.expr)
        for board, panel, target in _targets()
        if not isinstance(target, ClickHouseTarget)
    ]
