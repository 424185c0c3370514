"""How the API is reached, built from `[api]` settings as every command does (README, DESIGN §8).

`tls_cert` + `tls_key` serve HTTPS (through the runner every command uses); `cors_origins` opens cross-origin reads to
exactly the listed origins and CORS stays closed without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from app.runners.api import api_server
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.storage import Store


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "api.crt", directory / "api.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_a_configured_certificate_serves_https_and_controls_still_need_the_token(tmp_path: Path, store: Store) -> None:
    cert, key = _self_signed(tmp_path)
    settings = Settings()
    settings.api.port = 0
    settings.api.tls_cert, settings.api.tls_key = cert, key
    server, token = api_server(settings, store, Control())
    url = server.start()
    try:
        assert url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=str(cert), timeout=10) as client:
            assert client.get(f"{url}/api/health").json()["store_ok"] is True
            assert client.post(f"{url}/api/controls/pause").status_code == 401
            paused = client.post(f"{url}/api/controls/pause", headers={"Authorization": f"Bearer {token}"})
            assert paused.status_code == 200 and paused.json()["controls"]["entries_paused"] is True
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url.replace('https://', 'http://')}/api/health", timeout=5)
    finally:
        server.stop()


@pytest.mark.parametrize(("origins", "allowed"), [([], None), (["http://desk.example"], "http://desk.example")])
def test_cross_origin_reads_are_allowed_only_for_configured_origins(store: Store, origins: list[str], allowed) -> None:
    settings = Settings()
    settings.api.cors_origins = origins
    app = create_app(ApiContext(store=store, settings=settings, guard=TokenGuard("cors-test-token-0123456")), settings.api.cors_origins)
    with TestClient(app) as client:
        for origin in ("http://desk.example", "http://elsewhere.example"):
            preflight = client.options("/api/health", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
            expected = allowed if origin == allowed else None
            assert preflight.headers.get("access-control-allow-origin") == expected, (origin, preflight.status_code)
