"""Panel builders shared by the dashboards: Prometheus and ClickHouse targets, time series, tables, layout.

grafanalib has no target for the ClickHouse plugin's query model (``editorType``,
``queryType``, ``rawSql``, a numeric ``format``), and its ``SqlTarget`` emits
fields of the MySQL/Postgres model instead; `ClickHouseTarget` is an attrs class
in grafanalib's style that emits the plugin's model, with the SQL read from a
file under ``dashboards/sql/`` that the query tests execute as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import attr
from grafanalib.core import Dashboard, GridPos, Panel, Table, Target, TimeSeries

from dashboards.datasources import CLICKHOUSE, PROMETHEUS

__all__ = [
    "SCHEMA_VERSION",
    "ClickHouseTarget",
    "Layout",
    "ch_table",
    "ch_timeseries",
    "pairflow_dashboard",
    "prom_timeseries",
    "sql_path",
]

# Grafana 10/11's dashboard schema: the panels built here (timeseries, table with fieldConfig) are already in
# that shape, so Grafana imports them without running its old-schema migrations (grafanalib defaults to 12).
SCHEMA_VERSION = 39

# The plugin's formats (grafana-plugin-sdk-go sqlutil): 0 time series, 1 table.
_FORMAT = {"timeseries": 0, "table": 1}


def sql_path(name: str) -> Path:
    """Return the path of ``dashboards/sql/<name>`` (e.g. ``market_data/trades_per_minute.sql``)."""
    return Path(str(files("dashboards").joinpath("sql", name)))


@attr.s
class ClickHouseTarget:
    """A raw-SQL query of the Grafana ClickHouse data source; ``sql_file`` is relative to ``dashboards/sql/``."""

    sql_file: str = attr.ib()
    query_type: str = attr.ib(default="timeseries", validator=attr.validators.in_(_FORMAT))
    refId: str = attr.ib(default="A")  # noqa: N815 - Grafana's field name

    @property
    def raw_sql(self) -> str:
        """Return the panel's SQL as stored in its file."""
        return sql_path(self.sql_file).read_text().strip()

    def to_json_data(self) -> dict:
        """Return the target in the ClickHouse plugin's query model."""
        return {
            "refId": self.refId,
            "datasource": CLICKHOUSE,
            "editorType": "sql",
            "queryType": self.query_type,
            "format": _FORMAT[self.query_type],
            "rawSql": self.raw_sql,
        }


class Layout:
    """Place panels left to right in rows of 24 grid units, wrapping as Grafana does."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, width: int, height: int) -> GridPos:
        """Return the next position for a panel of ``width`` x ``height``."""
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        position = GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        self.row_height = max(self.row_height, height)
        return position


def prom_timeseries(
    layout: Layout, title: str, exprs: Iterable[tuple[str, str]], unit: str = "", width: int = 12, height: int = 8,
    description: str = "",
) -> Panel:
    """A time series of PromQL ``(expression, legend)`` pairs."""
    targets = [
        Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + index), datasource=PROMETHEUS)
        for index, (expr, legend) in enumerate(exprs)
    ]
    return TimeSeries(title=title, dataSource=PROMETHEUS, targets=targets, unit=unit, description=description,
                      gridPos=layout.place(width, height))


def ch_timeseries(
    layout: Layout, title: str, sql_file: str, unit: str = "", width: int = 12, height: int = 8, description: str = ""
) -> Panel:
    """A time series from one ClickHouse query (long format: time, series column(s), values)."""
    return TimeSeries(title=title, dataSource=CLICKHOUSE, targets=[ClickHouseTarget(sql_file)], unit=unit,
                      description=description, gridPos=layout.place(width, height))


def ch_table(
    layout: Layout, title: str, sql_file: str, width: int = 12, height: int = 8, description: str = ""
) -> Panel:
    """A table from one ClickHouse query."""
    return Table(title=title, dataSource=CLICKHOUSE, targets=[ClickHouseTarget(sql_file, "table")],
                 description=description, gridPos=layout.place(width, height))


def pairflow_dashboard(title: str, uid: str, panels: list[Panel]) -> Dashboard:
    """A dashboard in pairflow's folder conventions: tagged, UTC, modern schema, panel ids assigned."""
    return Dashboard(title=f"pairflow · {title}", uid=uid, tags=["pairflow"], panels=panels,
                     schemaVersion=SCHEMA_VERSION, timezone="utc").auto_panel_ids()
