"""``pairflow api``: serve the REST/WebSocket API and the web UI over the configured store."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from app.options import ConfigOption
from app.runners.api import WEB_DIST, api_server, openapi_document, params_publisher
from app.runners.until_stopped import stop_signals
from pairflow.config import load_settings
from pairflow.control import Control
from pairflow.durable_file import write_bytes
from pairflow.errors import ConfigError
from pairflow.logs import start_logging
from pairflow.storage import connect

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``api`` command to the pairflow CLI."""
    app.command("api")(api)


def api(
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Port to listen on; 0 picks a free one. (api.port)"),
    openapi: Path | None = typer.Option(
        None, "--openapi", help="Write the OpenAPI document to this file and exit (the web UI's client is generated from it)."
    ),
    broker: bool = typer.Option(
        False, "--broker", help="Publish strategy parameter changes on pf.params (broker settings), where strategies "
                                "running as `pairflow strategy` take them; a change the broker does not take answers 503."
    ),
    config: ConfigOption = None,
) -> None:
    """Serve the API and the web UI until Ctrl-C or SIGTERM (exit 0); prints the URL and the token to use.

    The store must not be an embedded chDB directory another process has open
    (chDB admits one process): while `pairflow demo` runs, use the API it serves.
    The token is secrets.api_token, or derived from the keystore with
    api.token_from_keystore, else a random one made for this run.

    \b
    Examples:
      pairflow api --port 8000
      pairflow api --openapi openapi.json
    """
    settings = load_settings(config)
    if openapi is not None:
        try:
            write_bytes(openapi, (json.dumps(openapi_document(settings), indent=1, sort_keys=True) + "\n").encode())
        except OSError as error:
            raise ConfigError(f"--openapi {openapi} cannot be written: {error.strerror or error}") from None
        return
    start_logging(settings)
    store = connect(settings.storage)
    store.init_schema()

    def run_scan() -> str:
        from app.commands.demo import scan_at_start  # the scan's modules (scipy, statsmodels) load when asked for

        return scan_at_start(store, settings)

    server, token = api_server(settings, store, Control(), port=port, run_scan=run_scan,
                               publish_params=params_publisher(settings.broker) if broker else None)
    url = server.start()
    ui = "" if (WEB_DIST / "index.html").is_file() else " (UI not built: run scripts/setup.sh)"
    typer.echo(f"pairflow api {url}/?token={token}{ui}\ntoken: {token}")
    with stop_signals("api") as stop:
        try:
            server.join(stop)
        finally:
            server.stop()
            store.close()
    typer.echo("api stopped")
