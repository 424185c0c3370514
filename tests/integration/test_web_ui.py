"""The web UI's build: served by the API at /, its client generated from the current OpenAPI, its unit tests green."""

from __future__ import annotations

import json
import shutil
import subprocess

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenGuard
from api.context import ApiContext
from app.runners.api import WEB_DIST, openapi_document
from pairflow.config import Settings
from pairflow.storage import Store

WEB = WEB_DIST.parent


def test_the_committed_openapi_document_is_the_served_one() -> None:
    committed = json.loads((WEB / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(openapi_document(Settings()))), (
        "the API changed: run `pairflow api --openapi api/web/openapi.json` (the UI build generates its types from it)"
    )


def test_the_built_ui_is_served_at_the_root_and_client_routes_fall_back_to_it(store: Store) -> None:
    assert (WEB_DIST / "index.html").is_file(), "the web UI is not built: run scripts/setup.sh"
    ctx = ApiContext(store=store, settings=Settings(), guard=TokenGuard("u" * 20), web_dir=WEB_DIST)
    with TestClient(create_app(ctx)) as client:
        index = client.get("/")
        assert index.status_code == 200 and '<div id="app">' in index.text
        assert client.get("/spreads/ETH/SOL").text == index.text
        (asset,) = [path for path in (WEB_DIST / "assets").iterdir() if path.suffix == ".js"]
        served = client.get(f"/assets/{asset.name}")
        assert served.status_code == 200 and served.content == asset.read_bytes()
        assert client.get("/api/nothing").status_code == 404


def test_the_ui_unit_tests_pass() -> None:
    npm = shutil.which("npm")
    assert npm is not None and (WEB / "node_modules").is_dir(), "run scripts/setup.sh to install the UI's packages"
    result = subprocess.run([npm, "test", "--silent"], cwd=WEB, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "failed" not in result.stdout.lower()


def test_the_ui_talks_only_to_the_public_api() -> None:
    sources = "\n".join(path.read_text() for path in (WEB / "src").rglob("*") if path.suffix in (".ts", ".vue"))
    assert "fetch(" in sources and sources.count("fetch(") == 2  # the typed client's GET and POST
    for path in (WEB / "src").rglob("*"):
        if path.suffix in (".ts", ".vue") and path.name not in ("client.ts", "schema.d.ts", "stream.ts"):
            assert "fetch(" not in path.read_text() and "new WebSocket" not in path.read_text(), path


def test_the_ui_dependencies_are_locked() -> None:
    lock = json.loads((WEB / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2 and lock["packages"][""]["dependencies"]["vue"].startswith("^3")
    assert {"node_modules/", "dist/"} <= set((WEB / ".gitignore").read_text().split())
