"""Fixtures shared by the whole test suite: a real tansu broker on localhost, a chDB store in a tmp dir.

Under CI (``CI=true``) Hypothesis runs derandomized, so a submission's verdict does not depend
on which examples a random seed happened to draw; local runs keep exploring fresh examples.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

from pairflow.config import StorageSettings
from pairflow.storage import Store, connect
from tests.broker import TansuBroker


@pytest.fixture(scope="module")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """Yield a running broker shared by the tests of one module."""
    log_path = tmp_path_factory.mktemp("tansu") / "broker.log"
    with TansuBroker(log_path=log_path) as broker:
        yield broker


@pytest.fixture
def tansu_broker_fn(tmp_path: Path) -> Iterator[TansuBroker]:
    """Yield a running broker owned by one test (safe to stop and restart)."""
    with TansuBroker(log_path=tmp_path / "broker.log") as broker:
        yield broker


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a closed chDB directory with the schema created: applying every migration takes about a second,
    a copy of the result a tenth of that, and dozens of tests start from an empty store."""
    path = tmp_path_factory.mktemp("chdb-template") / "db"
    with connect(StorageSettings(dsn=f"chdb://{path}", spill_dir=path.parent / "spill")) as template:
        template.init_schema()
    return path


@pytest.fixture
def store(tmp_path: Path, schema_template: Path) -> Iterator[Store]:
    """Yield a chDB store with the schema created, in ``tmp_path/db`` (spills to ``tmp_path/spill``).

    It starts as a copy of `schema_template` (chDB links its tables by relative paths), opened like
    any existing store: ``init_schema`` finds nothing to apply and checks the views.
    """
    shutil.copytree(schema_template, tmp_path / "db", symlinks=True)
    opened = connect(StorageSettings(dsn=f"chdb://{tmp_path}/db", spill_dir=tmp_path / "spill"))
    assert opened.init_schema() == []
    yield opened
    opened.close()
