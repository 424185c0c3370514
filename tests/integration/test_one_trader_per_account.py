"""Both traders unlock the key the same way and refuse to trade an account another process is trading.

`pairflow trade` and `pairflow run execution` take the keystore passphrase from
``[secrets] keystore_passphrase`` in the config file (else the environment, else
a prompt), through one helper; and each takes the account's lock beside its
journals, so a second trader of the account with the same ``--data-dir`` stops
with one line instead of racing the first on nonces and journals. The lock dies
with its process (the SIGKILL test of ``run execution`` restarts on it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from app.commands.keys import PASSPHRASE_ENV, unlock_keystore
from app.commands.trade import check_agent
from app.runners.trading import lock_account
from pairflow.errors import ConfigError
from tests.helpers import new_keystore

REPO = Path(__file__).resolve().parents[2]
PASS = "only in the config file"


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_keystore(tmp_path_factory.mktemp("keys"), PASS)


def address_of(keystore: Path) -> str:
    return Account.from_key(unlock_keystore(keystore, SecretStr(PASS))).address


def test_the_configured_passphrase_wins_over_the_environment_and_a_wrong_one_is_one_line(
    keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "not this one")
    assert Account.from_key(unlock_keystore(keystore, SecretStr(PASS))).address.lower() in keystore.name
    with pytest.raises(ConfigError, match=f"wrong passphrase for keystore {keystore}$"):
        unlock_keystore(keystore, SecretStr("wrong"))
    with pytest.raises(ConfigError, match="wrong passphrase"):
        unlock_keystore(keystore)  # nothing configured: the environment's


def test_a_second_lock_of_the_account_is_refused_until_the_first_is_released(keystore: Path, tmp_path: Path) -> None:
    account = address_of(keystore)
    held = lock_account(tmp_path, account)
    with pytest.raises(ConfigError, match=f"account {account} is already traded from {tmp_path} by process {os.getpid()}"):
        lock_account(tmp_path, account)
    lock_account(tmp_path, "0x" + "2" * 40).close()  # another account of the same directory is free
    held.close()
    lock_account(tmp_path, account).close()


@given(st.text(max_size=60) | st.from_regex(r"0x[0-9a-fA-F]{40}", fullmatch=True))
def test_an_account_is_an_address_or_refused_in_one_line_before_it_names_a_file(text: str) -> None:
    try:
        check_agent("http://127.0.0.1:9", text, text)  # its own signer: no request is made
    except ConfigError as error:
        assert not re.fullmatch(r"0x[0-9a-fA-F]{40}", text)
        assert "\n" not in str(error) and str(error).startswith("--account must be an address")
    else:
        assert re.fullmatch(r"0x[0-9a-fA-F]{40}", text)


@pytest.mark.parametrize("command", [
    ["trade", "--mode", "paper", "--coins", "ETH,SOL"],
    ["run", "execution"],
], ids=["trade", "run-execution"])
def test_each_trader_unlocks_with_the_configured_passphrase_and_refuses_a_locked_account(
    keystore: Path, tmp_path: Path, command: list[str]
) -> None:
    account = address_of(keystore)
    config = tmp_path / "pairflow.toml"
    config.write_text(f'[secrets]\nkeystore_passphrase = "{PASS}"\n')
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("PAIRFLOW_")}
    env.update(PYTHONPATH=str(REPO), COLUMNS="400")
    held = lock_account(tmp_path / "desk", account)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "app", *command, "--url", "http://127.0.0.1:9", "--keystore", str(keystore),
             "--data-dir", str(tmp_path / "desk"), "--config", str(config)],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )
    finally:
        held.close()
    # Reaching the lock means the key was unlocked without a prompt (stdin is closed): the account is the key's.
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: account {account} is already traded from {tmp_path / 'desk'} by process "
                           f"{os.getpid()}"), line
    assert PASS not in result.stdout + result.stderr
