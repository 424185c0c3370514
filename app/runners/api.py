"""Build the API server from settings: the token, the guard, the UI's files, TLS and CORS."""

from __future__ import annotations

import secrets
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from api.server import ApiServer
from app.runners.backtests import backtest_launcher
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.config import BrokerSettings, Settings, StorageSettings, with_changes
from pairflow.events import TOPIC_OF, StrategyParams
from pairflow.control import Control
from pairflow.errors import ConfigError
from pairflow.hyperliquid.keystore import api_token as keystore_token, unlock
from pairflow.storage import Store, connect
from sinks.kafka import deliver

__all__ = ["WEB_DIST", "api_server", "api_token", "openapi_document", "params_publisher"]

WEB_DIST = Path(__file__).resolve().parents[2] / "api" / "web" / "dist"


def api_server(
    settings: Settings,
    store: Store,
    control: Control,
    *,
    port: int | None = None,
    any_port_if_taken: bool = False,
    run_scan: Callable[[], str] | None = None,
    reports_dir: Path | None = None,
    publish_params: Callable[[dict[str, float]], None] | None = None,
) -> tuple[ApiServer, str]:
    """Return a server for the API over ``store`` and the token it accepts.

    The token is the one `api_token` picks (printed by the caller, never logged). With
    ``any_port_if_taken`` (the demo) a busy port is replaced by a free one
    rather than failing; the URL the caller prints says which. Backtests
    launched over the API write their HTML reports to ``reports_dir`` (none without it).
    """
    if port is not None:
        settings.api = with_changes(settings.api, "api", port=port)
    if any_port_if_taken and not _bindable(settings.api.host, settings.api.port):
        settings.api = with_changes(settings.api, "api", port=0)
    token = api_token(settings)
    ctx = ApiContext(
        store=store,
        settings=settings,
        guard=TokenGuard(token, reads_need_token=settings.api.reads_need_token),
        control=control,
        web_dir=WEB_DIST,
        run_scan=run_scan,
        launch_backtest=backtest_launcher(settings, store, reports_dir),
        reports_dir=reports_dir,
        publish_params=publish_params,
        ws_queue_size=settings.api.ws_queue_size,
    )
    app = create_app(ctx, cors_origins=settings.api.cors_origins)
    server = ApiServer(app, settings.api.host, settings.api.port, settings.api.tls_cert, settings.api.tls_key)
    return server, token


def api_token(settings: Settings) -> str:
    """Return the token the API accepts: derived from the keystore with ``api.token_from_keystore``, else
    ``secrets.api_token``, else a fresh random one for this run.

    A missing keystore or passphrase, a wrong passphrase, or a token configured both ways is a one-line
    `ConfigError` (exit 2) before anything is served.
    """
    configured = settings.secrets.api_token
    if not settings.api.token_from_keystore:
        return configured.get_secret_value() if configured is not None else secrets.token_urlsafe(24)
    found = settings.secrets
    if configured is not None:
        raise ConfigError("api.token_from_keystore and secrets.api_token are both set; keep one")
    if found.keystore_path is None or found.keystore_passphrase is None:
        raise ConfigError("api.token_from_keystore needs secrets.keystore_path and secrets.keystore_passphrase")
    return keystore_token(unlock(found.keystore_path, found.keystore_passphrase.get_secret_value()))


def params_publisher(broker: BrokerSettings, clock: Clock = WALL_CLOCK) -> Callable[[dict[str, float]], None]:
    """Return the API's ``publish_params`` hook: each accepted change as a `StrategyParams` on ``pf.params``.

    One key for every change keeps them on one partition, in the order they were made.
    """
    topic = TOPIC_OF[StrategyParams]

    def publish(changes: dict[str, float]) -> None:
        now = clock.now_ms()
        deliver(broker, topic, [("strategy", StrategyParams(ts=now, recv_ts=now, id=uuid.uuid4().hex, **changes))],
                "parameter changes")

    return publish


def openapi_document(settings: Settings) -> dict:
    """Return the API's OpenAPI document (no store is opened: building the app queries nothing)."""
    store = connect(StorageSettings(dsn="http://127.0.0.1:1/unused"))
    guard = TokenGuard(secrets.token_urlsafe(24))
    return create_app(ApiContext(store=store, settings=settings, guard=guard)).openapi()


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
