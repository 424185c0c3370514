"""`[api] tls_cert` + `tls_key` serve the API over HTTPS (README, DESIGN §8), built from settings as every command does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

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
