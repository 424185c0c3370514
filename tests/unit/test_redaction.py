"""Passwords never reach an error message or a log line, whatever path the text takes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli import app
from pairflow.config import LoggingSettings
from pairflow.errors import ConfigError, StorageError
from pairflow.logs import configure_logging, get_logger
from pairflow.redaction import REDACTED, redact_url_passwords

_WORD = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_."), min_size=1, max_size=12)
_PASSWORD = st.text(
    st.characters(blacklist_categories=("Cs", "Z", "C"), blacklist_characters="/@"), min_size=1, max_size=24
)
_PLAIN = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="@:/"), max_size=30)


@given(
    before=_PLAIN,
    after=_PLAIN,
    scheme=st.sampled_from(["https", "http", "postgres", "redis", "kafka+ssl"]),
    user=_WORD,
    password=_PASSWORD,
    host=_WORD,
)
def test_url_password_is_replaced_anywhere_in_text(before, after, scheme, user, password, host) -> None:
    text = f"{before} {scheme}://{user}:{password}@{host}:8443/db {after}"
    assert redact_url_passwords(text) == f"{before} {scheme}://{user}:{REDACTED}@{host}:8443/db {after}"


@given(_PLAIN)
def test_text_without_credentials_is_unchanged(text) -> None:
    assert redact_url_passwords(text) == text
    assert redact_url_passwords("see https://example.org/a@b and user@host") == "see https://example.org/a@b and user@host"


def test_every_pairflow_error_redacts_its_message() -> None:
    assert "S3CRET" not in str(StorageError("cannot reach postgres://admin:S3CRET@db/x"))
    assert str(ConfigError("bad dsn 'https://bob:S3CRET@ch:8443/pf'")) == f"bad dsn 'https://bob:{REDACTED}@ch:8443/pf'"


def test_log_lines_redact_urls_inside_any_string_value() -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="INFO"), stream=stream)
    get_logger("pairflow.test").warning(
        "store down", error="ConnectionError('https://bob:S3CRET@ch/x')", tried=["postgres://a:S3CRET@db/y"]
    )
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert "S3CRET" not in json.dumps(line)
    assert line["error"] == f"ConnectionError('https://bob:{REDACTED}@ch/x')"


def test_config_check_error_shows_no_password(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[storage]\ndsn = "postgres://admin:S3CRET@db/x"\n')
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "S3CRET" not in result.output
    assert "storage.dsn" in result.output and f"postgres://admin:{REDACTED}@db/x" in result.output
