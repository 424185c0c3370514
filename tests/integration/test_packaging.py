"""The wheel `pip install .` builds (the Docker image installs pairflow the same way): every room's modules and
data files, the built web UI inside, and the installed `pairflow api` serving / from its own copy.

The wheel is built offline with the installed setuptools from a copy of the sources, so the checkout gets no
build/ or egg-info. The UI is not built here: scripts/setup.sh builds api/web/dist, and without it these
tests fail with that instruction rather than pass on a wheel that would serve no UI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from app.runners.api import WEB_DIST
from tests.integration.api_support import served_api
from tests.integration.ingest_support import start_pairflow, stop_ingest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = [pattern.rstrip("*") for pattern in PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
# Import what `pairflow api` runs and print where each module came from.
# The modules that serve the API; the CLI loads the rest (backtest engine, scan) only when first asked.
SERVED_BY = {"app.runners.api", "api.app", "api.server", "api.reads", "pairflow.storage.store"}
IMPORT_API = """
import sys, app.cli, app.commands.api, app.runners.api
for name, module in list(sys.modules.items()):
    print(name, getattr(module, "__file__", None))
"""


def built_ui_files() -> list[Path]:
    """Return the files of api/web/dist, failing with what to run when the UI was never built."""
    assert (WEB_DIST / "index.html").is_file() and list((WEB_DIST / "assets").glob("*.js")), (
        "the web UI is not built (api/web/dist): run scripts/setup.sh, or the wheel ships without it"
    )
    return sorted(path for path in WEB_DIST.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built_ui_files()
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    skipped = shutil.ignore_patterns("node_modules", "__pycache__", "*.pyc", ".build-stamp")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=skipped)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (found,) = (work / "dist").glob("pairflow-*.whl")
    return found


def test_the_wheel_carries_the_built_ui_and_no_ui_sources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"api/web/dist/{path.relative_to(WEB_DIST).as_posix()}" for path in built_ui_files()}
    assert wanted - names == set()
    assert [name for name in names if name.startswith("api/web/") and not name.startswith("api/web/dist/")] == []
    modules = {path.relative_to(ROOT).as_posix() for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    assert len(modules) > 100 and modules - names == set(), "the wheel misses modules of the checkout"
    assert "infra/clickhouse/0001_market_data.sql" in names


def test_the_installed_api_serves_the_ui_from_the_installed_package(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # what pip install puts in site-packages (plus metadata and the script)
    process = start_pairflow(tmp_path, "api", "--port", "0", code=site)
    try:
        # Nothing may come from a checkout (the venv's editable install would otherwise supply a file the wheel lacks).
        imported = subprocess.run([sys.executable, "-c", IMPORT_API], cwd=tmp_path, capture_output=True, text=True,
                                  env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)}, timeout=60)
        assert imported.returncode == 0, imported.stderr[-3000:]
        origins = dict(line.split(" ", 1) for line in imported.stdout.splitlines())
        ours = {name: path for name, path in origins.items() if name.split(".")[0] in PACKAGES}
        assert SERVED_BY <= ours.keys() and [name for name, path in ours.items() if not path.startswith(str(site))] == []
        url, _ = served_api(process, tmp_path / "api.log")
        installed = site / "api" / "web" / "dist"
        index = httpx.get(f"{url}/", timeout=10)
        assert index.status_code == 200 and index.content == (installed / "index.html").read_bytes()
        for asset in (installed / "assets").iterdir():
            served = httpx.get(f"{url}/assets/{asset.name}", timeout=10)
            assert served.status_code == 200 and served.content == asset.read_bytes(), asset.name
    finally:
        stop_ingest(process)
