"""A recovery directory serves the command that first used it; any other is refused in one line, whatever the marker holds."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.ingest import prepare_recovery
from pairflow.errors import ConfigError
from pairflow.recovery_owner import OWNER_FILE, claim

owners = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda name: name.strip() == name)


@given(first=owners, second=owners)
def test_only_the_first_owner_is_admitted(first: str, second: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        claim(directory, first)
        claim(directory, first)
        if second == first:
            claim(directory, second)
            return
        with pytest.raises(ConfigError) as refused:
            claim(directory, second)
        message = str(refused.value)
        assert "\n" not in message and "\r" not in message
        assert repr(first) in message and repr(second) in message
        assert (directory / OWNER_FILE).read_bytes() == first.encode()
        assert sorted(path.name for path in directory.iterdir()) == [OWNER_FILE]


@given(marker=st.binary(max_size=80), owner=owners)
def test_any_marker_content_is_admitted_or_refused_in_one_line(marker: bytes, owner: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / OWNER_FILE).write_bytes(marker)
        try:
            claim(directory, owner)
        except ConfigError as refused:
            message = str(refused)
            assert "\n" not in message and "\r" not in message and str(directory) in message
        else:
            assert marker.decode().strip() == owner
        assert (directory / OWNER_FILE).read_bytes() == marker


def test_a_directory_from_before_the_marker_is_adopted_by_its_first_user(tmp_path: Path) -> None:
    prepare_recovery(tmp_path, "pairflow run ingest")
    (tmp_path / OWNER_FILE).unlink()
    parts = sorted(tmp_path.glob("part-*.sqlite3"))
    assert parts
    prepare_recovery(tmp_path, "pairflow run strategy")
    assert (tmp_path / OWNER_FILE).read_text() == "pairflow run strategy"
    assert sorted(tmp_path.glob("part-*.sqlite3")) == parts
    with pytest.raises(ConfigError, match="belongs to 'pairflow run strategy'"):
        prepare_recovery(tmp_path, "pairflow run ingest")
