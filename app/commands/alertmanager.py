"""``pairflow alertmanager``: the Alertmanager configuration with its secrets filled in, and the pf.alerts relay."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from app.options import ConfigOption, examples, usable_directory
from app.runners.until_stopped import run_until_stopped
from flows.alerts import relay_dataflow
from flows.ingest import prepare_recovery
from pairflow.alertmanager import render_alertmanager_config
from pairflow.config import load_settings, with_changes
from pairflow.durable_file import write_bytes
from pairflow.errors import ConfigError
from pairflow.events import TOPIC_OF, Alert
from pairflow.logs import get_logger, start_logging
from pairflow.metrics import serve_metrics
from pairflow.topics import prepare_topics
from sources.kafka_source import market_data_source

__all__ = ["register"]

alertmanager_app = typer.Typer(help="Alertmanager for pairflow's alerts: its configuration and the pf.alerts relay." + examples(
    "pairflow alertmanager config --secrets-dir /run/secrets --out alertmanager.yml",
    "pairflow alertmanager relay --brokers 127.0.0.1:9092"),
                               no_args_is_help=True)
_log = get_logger(__name__)


@alertmanager_app.command("config")
def config_command(
    secrets_dir: Annotated[
        Path, typer.Option("--secrets-dir", help="Directory with one file per secret named in the template.")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Write here (mode 600) instead of stdout.")] = None,
) -> None:
    """Render infra/alertmanager/alertmanager.yml, replacing each secret:NAME by the content of SECRETS_DIR/NAME.

    \b
    Examples:
      pairflow alertmanager config --secrets-dir /run/secrets --out alertmanager.yml
    """
    text = render_alertmanager_config(secrets_dir)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        write_bytes(out, text.encode(), mode=0o600)  # Alertmanager never reads half a config
    except OSError as error:
        raise ConfigError(f"--out {out} cannot be written: {error.strerror or error}") from None
    typer.echo(f"wrote {out}")


@alertmanager_app.command("relay")
def relay_command(
    alertmanager_url: Annotated[
        str | None, typer.Option("--alertmanager-url", help="Alertmanager base URL; default: alerting.alertmanager_url.")
    ] = None,
    brokers: Annotated[str | None, typer.Option("--brokers", help="Read pf.alerts here; default: broker settings.")] = None,
    outbox_dir: Annotated[
        Path | None, typer.Option("--outbox-dir", help="Outbox, delivered ids, read offsets; default: alerting.outbox_dir.")
    ] = None,
    until_end: Annotated[
        bool, typer.Option("--until-end", help="Stop once pf.alerts has been read instead of waiting for more.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Post every alert published on pf.alerts to Alertmanager (broker mode; embedded runs post in-process).

    Each alert is logged, kept in the outbox until Alertmanager accepted it
    (an outage or a restart delays it, never loses it) and posted once: the
    relay resumes after the last offset it snapshotted, and an alert id it
    already queued or delivered is skipped. Alerts below
    alerting.min_severity are only logged.

    \b
    Examples:
      pairflow alertmanager relay --alertmanager-url http://127.0.0.1:9093 --brokers 127.0.0.1:9092
    """
    settings = load_settings(config)
    updates: dict[str, object] = {}
    if alertmanager_url is not None:
        updates["alertmanager_url"] = alertmanager_url
    if outbox_dir is not None:
        updates["outbox_dir"] = outbox_dir
    alerting = with_changes(settings.alerting, "alerting", **updates)
    if not alerting.alertmanager_url:
        raise ConfigError("no Alertmanager to relay to: pass --alertmanager-url or set [alerting] alertmanager_url")
    alerting.outbox_dir = usable_directory(Path(alerting.outbox_dir).resolve(), "--outbox-dir")
    start_logging(settings)
    if settings.metrics.port:
        serve_metrics(settings.metrics.port, settings.metrics.host)
    addresses = (brokers or settings.broker.bootstrap_servers).split(",")
    topic = TOPIC_OF[Alert]
    prepare_topics(settings.broker.model_copy(update={"bootstrap_servers": ",".join(addresses)}), (topic,))
    _log.info("alert relay starting", brokers=addresses, alertmanager=alerting.alertmanager_url)
    stop = threading.Event()
    flow = relay_dataflow(alerting, market_data_source(addresses, (topic,), tail=not until_end, batch_size=500,
                                                       stop=stop))
    run_until_stopped(flow, 1, timedelta(seconds=1), prepare_recovery(alerting.outbox_dir / "recovery", "pairflow alertmanager relay"), stop=stop)


def register(app: typer.Typer) -> None:
    """Add ``pairflow alertmanager`` to the CLI."""
    app.add_typer(alertmanager_app, name="alertmanager")
