"""Members of one ``pairflow run STAGE --cluster`` started with different ``--workers`` stop with one line each.

Bytewax expects every process of a cluster to run the same number of workers;
members that disagree cannot exchange their data. Neither may hang nor end in
a traceback: each stops with the lost-contact error, which says to start every
process with the same --cluster and --workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker import TansuBroker
from tests.helpers import free_port
from tests.integration.ingest_support import start_pairflow

pytestmark = pytest.mark.broker


def test_members_that_disagree_on_workers_each_stop_with_one_line(tansu_broker: TansuBroker, tmp_path: Path) -> None:
    addresses = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    members = []
    for index in (0, 1):
        (tmp_path / f"member{index}").mkdir()
        members.append(start_pairflow(
            tmp_path / f"member{index}", "run", "ingest", "--brokers", tansu_broker.bootstrap_servers, "--until-end",
            "--dead-letter-dir", str(tmp_path / "dead"), "--cluster", addresses, "-i", str(index),
            "--workers", str(index + 1),
        ))
    try:
        codes = [member.wait(timeout=60) for member in members]
    finally:
        for member in members:
            member.kill()
            member.wait()
    assert codes == [1, 1]
    for index in (0, 1):
        log = (tmp_path / f"member{index}" / "run.log").read_text()
        assert f"error: process {index} lost contact with the other processes of the cluster" in log, log
        assert "the same --cluster and --workers" in log and "Traceback" not in log, log
