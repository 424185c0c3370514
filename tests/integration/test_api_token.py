"""Where the API token comes from: the keystore (derived from its key), secrets.api_token, or a random one."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from api.auth import TokenGuard
from app.runners.api import api_token
from pairflow.config import ApiSettings, SecretSettings, Settings
from pairflow.errors import ConfigError
from pairflow.hyperliquid.keystore import api_token as keystore_token, unlock
from tests.helpers import new_keystore
from tests.integration.api_support import served_api
from tests.integration.ingest_support import start_pairflow, stop_ingest

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_keystore(tmp_path_factory.mktemp("keys"), PASSPHRASE)


def from_keystore(path: Path | None, passphrase: str | None, token: str | None = None) -> Settings:
    return Settings(api=ApiSettings(token_from_keystore=True),
                    secrets=SecretSettings(keystore_path=path, keystore_passphrase=passphrase, api_token=token))


def test_the_keystore_token_is_derived_from_its_key_and_the_same_on_every_start(keystore: Path) -> None:
    token = api_token(from_keystore(keystore, PASSPHRASE))
    assert token == keystore_token(unlock(keystore, PASSPHRASE)) == api_token(from_keystore(keystore, PASSPHRASE))
    assert unlock(keystore, PASSPHRASE).hex() not in token
    # Without the switch: the configured token, else a new random one per run.
    assert api_token(Settings(secrets=SecretSettings(api_token="s" * 20))) == "s" * 20
    assert api_token(Settings()) != api_token(Settings())


@pytest.mark.parametrize(("path", "passphrase", "token", "error"), [
    (None, PASSPHRASE, None, "needs secrets.keystore_path and secrets.keystore_passphrase"),
    ("keystore", None, None, "needs secrets.keystore_path and secrets.keystore_passphrase"),
    ("keystore", "wrong", None, "wrong passphrase for keystore"),
    ("keystore", PASSPHRASE, "s" * 20, "both set; keep one"),
    ("missing", PASSPHRASE, None, "cannot read keystore"),
])
def test_a_keystore_token_that_cannot_be_made_is_one_line(keystore: Path, tmp_path: Path, path, passphrase, token,
                                                         error) -> None:
    where = {None: None, "keystore": keystore, "missing": tmp_path / "nothing.json"}[path]
    with pytest.raises(ConfigError, match=re.escape(error)) as raised:
        api_token(from_keystore(where, passphrase, token))
    assert "\n" not in str(raised.value)


@hypothesis_settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_any_key_derives_a_distinct_token_the_guard_accepts(one: bytes, other: bytes) -> None:
    token = keystore_token(one)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    TokenGuard(token).check(token, "client")
    assert (keystore_token(other) == token) == (other == one)


def test_pairflow_api_prints_and_accepts_the_keystore_token(keystore: Path, tmp_path: Path) -> None:
    process = start_pairflow(tmp_path, "api", "--port", "0", extra_env={
        "PAIRFLOW_API__TOKEN_FROM_KEYSTORE": "true", "PAIRFLOW_SECRETS__KEYSTORE_PATH": str(keystore),
        "PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE": PASSPHRASE})
    log = tmp_path / "api.log"
    try:
        url, token = served_api(process, log)
        assert token == keystore_token(unlock(keystore, PASSPHRASE))
        pause = f"{url}/api/controls/pause"
        assert httpx.post(pause, headers={"Authorization": "Bearer " + "x" * 64}, timeout=10).status_code == 401
        assert httpx.post(pause, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    finally:
        stop_ingest(process)
    assert process.returncode == 0, log.read_text()
