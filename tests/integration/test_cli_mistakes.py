"""Command-line and configuration mistakes end in one clear line and a non-zero exit, never a traceback.

Each case runs ``python -m app`` as a user would, in a fresh directory with a
clean ``PAIRFLOW_*`` environment, against a real venue where coins matter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairflow.config import VenueSettings
from venue.service import VenueOptions, VenueService

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def venue_url() -> Iterator[str]:
    service = VenueService(VenueOptions(VenueSettings(port=0, data_dir=None)))
    url = service.start()
    try:
        yield url
    finally:
        service.stop()


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.upper().startswith("PAIRFLOW_")}
    environment.update(PYTHONPATH=str(REPO), COLUMNS="400", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=90
    )


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    return path


def utf16_config(tmp_path: Path) -> Path:
    path = tmp_path / "utf16.toml"
    path.write_text("[venue]\nseed = 3\n", encoding="utf-16")
    return path


def password_config(tmp_path: Path) -> Path:
    path = tmp_path / "secret.toml"
    path.write_text('[storage]\ndsn = "postgres://admin:S3CRET@db/x"\n')
    return path


# (id, command line from (tmp_path, venue url), extra environment, words the one line must contain)
CASES = [
    ("venue-port-out-of-range", lambda tmp, url: ["venue", "serve", "--port", "70000"], {}, ["venue.port", "65535"]),
    ("unknown-market", lambda tmp, url: ["venue", "serve", "--market", "casino"], {}, ["venue.market"]),
    ("venue-data-dir-unwritable", lambda tmp, url: ["venue", "serve", "--port", "0", "--data-dir",
                                                   str(a_file(tmp) / "venue")], {}, ["not writable"]),
    ("dead-letter-dir-under-a-file", lambda tmp, url: ["ingest", "--dead-letter-dir", str(a_file(tmp) / "dl")], {},
     ["--dead-letter-dir", "Not a directory"]),
    ("recovery-dir-is-a-file", lambda tmp, url: ["ingest", "--recovery-dir", str(a_file(tmp))], {},
     ["--recovery-dir", "is a file"]),
    ("config-file-in-utf16", lambda tmp, url: ["config", "check", str(utf16_config(tmp))], {}, ["not UTF-8"]),
    ("unknown-env-section", lambda tmp, url: ["config", "show"], {"PAIRFLOW_NOPE__X": "1"},
     ["PAIRFLOW_NOPE__X", "nope"]),
    ("env-single-underscore", lambda tmp, url: ["config", "show"], {"PAIRFLOW_STORAGE_DSN": "chdb:///x"},
     ["PAIRFLOW_STORAGE_DSN", "did you mean PAIRFLOW_STORAGE__DSN"]),
    ("env-bad-json", lambda tmp, url: ["config", "show"], {"PAIRFLOW_VENUE__FUND": "lots"}, ["fund", "not JSON"]),
    ("password-in-invalid-dsn", lambda tmp, url: ["config", "check", str(password_config(tmp))], {},
     ["storage.dsn", "postgres://admin:<redacted>@db/x"]),
    ("collect-unknown-coin", lambda tmp, url: ["collect", "--url", url, "--coins", "NOPE,BTC"], {},
     ["NOPE", "BTC, ETH"]),
    ("ingest-unknown-coin", lambda tmp, url: ["ingest", "--embedded", "--url", url, "--coins", "NOPE,BTC"], {},
     ["NOPE", "BTC, ETH"]),
    ("embedded-ingest-until-end", lambda tmp, url: ["ingest", "--embedded", "--url", url, "--until-end"], {},
     ["--until-end", "embedded collector"]),
    ("backfill-unknown-coin", lambda tmp, url: ["backfill", "--url", url, "--coins", "NOPE,BTC", "--from", "2024-09-01",
                                               "--to", "2024-09-02"], {}, ["NOPE", "BTC, ETH"]),
    ("demo-unknown-coin", lambda tmp, url: ["demo", "--coins", "NOPE,BTC", "--data-dir", str(tmp / "demo")], {},
     ["NOPE", "BTC, ETH"]),
    ("trade-keystore-missing", lambda tmp, url: ["trade", "--mode", "paper", "--url", url, "--keystore",
                                                str(tmp / "none.json"), "--coins", "ETH,SOL", "--data-dir",
                                                str(tmp / "trade")], {}, ["none.json", "not found"]),
    ("trade-empty-coin-name", lambda tmp, url: ["trade", "--mode", "paper", "--url", url, "--keystore",
                                               str(tmp / "none.json"), "--coins", "ETH,,SOL", "--data-dir",
                                               str(tmp / "trade")], {}, ["--coins 'ETH,,SOL'", "comma-separated"]),
    ("approve-agent-keystore-missing", lambda tmp, url: ["keys", "approve-agent", "0x" + "1" * 40, "--account-keystore",
                                                        str(tmp / "none.json"), "--url", url], {},
     ["none.json", "not found"]),
    ("import-missing-file", lambda tmp, url: ["data", "import", str(tmp / "absent.csv")], {},
     ["absent.csv: file was not found"]),
    ("optimize-embargo-shorter-than-a-hold", lambda tmp, url: [
        "optimize", "--spreads", "ETH/SOL", "--embargo-hours", "1", "--no-save",
        "--data", str(REPO / "tests" / "fixtures" / "data" / "perp_1h_ohlcv_2024-10_sample.csv")], {},
     ["--embargo-hours 1", "longest holding time", "6 h"]),
    ("execution-in-a-cluster", lambda tmp, url: ["run", "execution", "--cluster", "127.0.0.1:1,127.0.0.1:2",
                                                "--process-id", "0"], {}, ["execution runs as one process", "nonces"]),
    ("execution-on-two-workers", lambda tmp, url: ["run", "execution", "-w", "2"], {},
     ["execution runs as one worker", "--workers 2"]),
    ("execution-options-for-strategy", lambda tmp, url: ["run", "strategy", "--pairs", "ETH/SOL", "--account",
                                                        "0x" + "1" * 40, "--mainnet"], {},
     ["only the execution stage takes --account, --mainnet", "for strategy"]),
    ("execution-data-dir-for-ingest", lambda tmp, url: ["run", "ingest", "--data-dir", str(tmp / "x")], {},
     ["only the execution stage takes --data-dir", "for ingest"]),
    ("store-writer-in-a-cluster", lambda tmp, url: ["run", "store-writer", "--cluster", "127.0.0.1:1,127.0.0.1:2",
                                                   "--process-id", "1"], {}, ["store-writer runs as one process"]),
    ("relay-without-alertmanager", lambda tmp, url: ["alertmanager", "relay", "--outbox-dir", str(tmp / "outbox")], {},
     ["no Alertmanager", "--alertmanager-url"]),
    ("openapi-into-a-missing-directory", lambda tmp, url: ["api", "--openapi", str(tmp / "gone" / "openapi.json")], {},
     ["--openapi", "gone/openapi.json", "No such file or directory"]),
    ("relay-outbox-under-a-file", lambda tmp, url: ["alertmanager", "relay", "--alertmanager-url", "http://127.0.0.1:9",
                                                   "--outbox-dir", str(a_file(tmp) / "outbox")], {},
     ["--outbox-dir", "Not a directory"]),
]


@pytest.mark.parametrize(("command", "env", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_mistake_is_one_line_and_a_nonzero_exit(tmp_path, venue_url, command, env, words) -> None:
    result = run_cli(tmp_path, *command(tmp_path, venue_url), env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ")
    for word in words:
        assert word in line
    assert "S3CRET" not in output


def test_an_unreachable_store_is_one_line_and_exit_1(tmp_path) -> None:
    result = run_cli(tmp_path, "db", "status", env={"PAIRFLOW_STORAGE__DSN": "http://bob:S3CRET@127.0.0.1:9/pf"})
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: cannot reach ClickHouse at http://127.0.0.1:9/pf")
    assert "S3CRET" not in result.stdout + result.stderr


def test_an_unreachable_broker_is_one_line_and_exit_1(tmp_path, venue_url) -> None:
    result = run_cli(tmp_path, "collect", "--url", venue_url, "--coins", "BTC",
                     env={"PAIRFLOW_BROKER__BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and "broker" in line
    # librdkafka's failed connects (one every few ms, about a hundred before the error) come as one log line
    # of each kind on stdout, with the real address and reason.
    librdkafka = [json.loads(line) for line in result.stdout.splitlines() if '"librdkafka"' in line]
    assert librdkafka and "127.0.0.1:9" in librdkafka[0]["event"] and "refused" in librdkafka[0]["event"]
    assert len(librdkafka) <= 3, [record["event"] for record in librdkafka]


def test_an_unreachable_exchange_is_one_line_and_exit_1(tmp_path) -> None:
    result = run_cli(tmp_path, "backfill", "--url", "http://127.0.0.1:9", "--coins", "BTC", "--from", "2024-09-01",
                     "--to", "2024-09-02", env={"PAIRFLOW_STORAGE__DSN": f"chdb://{tmp_path / 'chdb'}"})
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: POST http://127.0.0.1:9/info") and "failed" in line


def test_comma_separated_coins_in_the_environment_work(tmp_path) -> None:
    result = run_cli(tmp_path, "config", "show", env={"PAIRFLOW_COLLECTOR__COINS": "BTC, ETH"})
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout)["collector"]["coins"] == ["BTC", "ETH"]


def test_a_chdb_directory_open_in_another_process_is_one_line_saying_so(tmp_path) -> None:
    """chDB writes the reason (its lock) to stderr itself; it used to come as a stray line before pairflow's error."""
    directory = tmp_path / "chdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pairflow.config import StorageSettings\n"
         "from pairflow.storage import connect\n"
         f"with connect(StorageSettings(dsn='chdb://{directory}')) as store:\n"
         "    store.query('SELECT 1')\n    print('open', flush=True)\n    sys.stdin.read()\n"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "open\n"
        result = run_cli(tmp_path, "db", "status", env={"PAIRFLOW_STORAGE__DSN": f"chdb://{directory}"})
    finally:
        holder.communicate("", timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot open chDB at {directory}: ")
    assert "Cannot lock file" in line and "Another server instance in same directory is already running" in line
