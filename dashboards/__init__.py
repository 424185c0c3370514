"""Grafana dashboards as code (grafanalib), with every ClickHouse panel's SQL in its own file under sql/."""
