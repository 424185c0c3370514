"""A --recovery-dir serves the stage that first used it: another stage is refused in one line, the same one resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairflow.recovery_owner import OWNER_FILE
from tests.broker import TansuBroker, consume_to_end
from tests.integration.ingest_support import create_topics, make_tape, produce, start_pairflow

pytestmark = pytest.mark.broker


def run_stage(workdir: Path, broker: TansuBroker, recovery: Path, *arguments: str) -> tuple[int, str]:
    workdir.mkdir()
    process = start_pairflow(workdir, "run", *arguments, "--brokers", broker.bootstrap_servers, "--until-end",
                             "--recovery-dir", str(recovery), "--dead-letter-dir", str(workdir / "dead"))
    try:
        code = process.wait(timeout=90)
    finally:
        process.kill()
        process.wait()
    return code, (workdir / "run.log").read_text()


def test_an_ingest_recovery_dir_is_refused_to_the_strategy_and_resumes_the_ingest(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    create_topics(tansu_broker_fn)
    produce(tansu_broker_fn, make_tape(300, with_junk=False).messages)
    recovery = tmp_path / "recovery"
    code, log = run_stage(tmp_path / "ingest", tansu_broker_fn, recovery, "ingest")
    assert code == 0, log
    assert (recovery / OWNER_FILE).read_text() == "pairflow run ingest"
    published = len(consume_to_end(tansu_broker_fn, "md.bars"))
    assert published > 0

    code, log = run_stage(tmp_path / "strategy", tansu_broker_fn, recovery, "strategy", "--pairs", "ETH/SOL")
    assert code == 2, log
    (line,) = [line for line in log.splitlines() if line.strip()]
    assert line == (f"error: --recovery-dir {recovery} belongs to 'pairflow run ingest' (its owner file), not to "
                    "'pairflow run strategy': give each stage its own directory")

    code, log = run_stage(tmp_path / "again", tansu_broker_fn, recovery, "ingest")
    assert code == 0, log
    assert "Traceback" not in log
    # Resumed from the snapshot at the end of the first run: no trade read again, no bar published again.
    assert len(consume_to_end(tansu_broker_fn, "md.bars")) == published
