"""Build the API server from settings: the token, the guard, the UI's files, TLS and CORS."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from api.server import ApiServer
from pairflow.config import Settings, with_changes
from pairflow.control import Control
from pairflow.storage import Store

__all__ = ["WEB_DIST", "api_server"]

WEB_DIST = Path(__file__).resolve().parents[2] / "api" / "web" / "dist"


def api_server(
    settings: Settings,
    store: Store,
    control: Control,
    *,
    port: int | None = None,
    run_scan: Callable[[], str] | None = None,
) -> tuple[ApiServer, str]:
    """Return a server for the API over ``store`` and the token it accepts.

    The token is ``secrets.api_token`` when configured, else a fresh random
    one for this run (printed by the caller, never logged).
    """
    if port is not None:
        settings.api = with_changes(settings.api, "api", port=port)
    configured = settings.secrets.api_token
    token = configured.get_secret_value() if configured is not None else secrets.token_urlsafe(24)
    ctx = ApiContext(
        store=store,
        settings=settings,
        guard=TokenGuard(token, reads_need_token=settings.api.reads_need_token),
        control=control,
        web_dir=WEB_DIST,
        run_scan=run_scan,
        ws_queue_size=settings.api.ws_queue_size,
    )
    app = create_app(ctx, cors_origins=settings.api.cors_origins)
    server = ApiServer(app, settings.api.host, settings.api.port, settings.api.tls_cert, settings.api.tls_key)
    return server, token
