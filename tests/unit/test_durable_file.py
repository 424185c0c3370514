"""The one atomic, durable file write: any content reads back whole, a write that fails part-way leaves the old file
and no temporary behind, and a missing directory is one clear error."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.durable_file import open_append, replace_file, write_bytes
from tests.support.durability import directories_synced


class _Stopped(Exception):
    pass


@settings(max_examples=100, deadline=None)
@given(old=st.none() | st.binary(max_size=2000), new=st.binary(max_size=2000))
def test_any_bytes_replace_the_file_whole(old: bytes | None, new: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "target"
        if old is not None:
            write_bytes(path, old)
        write_bytes(path, new)
        assert path.read_bytes() == new
        assert os.listdir(directory) == ["target"]


@settings(max_examples=100, deadline=None)
@given(old=st.none() | st.binary(max_size=500), chunks=st.lists(st.binary(max_size=300), max_size=5),
       raises=st.booleans())
def test_a_writer_that_raises_part_way_leaves_the_old_file_and_no_temporary(
        old: bytes | None, chunks: list[bytes], raises: bool) -> None:
    def write(out) -> None:
        for chunk in chunks:
            out.write(chunk)
        if raises:
            raise _Stopped("stopped mid-write")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "target"
        if old is not None:
            path.write_bytes(old)
        if raises:
            with pytest.raises(_Stopped):
                replace_file(path, write)
            expected = old
        else:
            replace_file(path, write)
            expected = b"".join(chunks)
        assert (path.read_bytes() if path.exists() else None) == expected
        assert os.listdir(directory) == ([] if expected is None else ["target"])


def test_a_rename_the_system_refuses_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "target"
    (target / "inside").mkdir(parents=True)  # a non-empty directory cannot be replaced by a file
    with pytest.raises(OSError):
        write_bytes(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    assert [p.name for p in target.iterdir()] == ["inside"]


def test_a_missing_directory_is_one_clear_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "target"
    with pytest.raises(FileNotFoundError) as raised:
        write_bytes(path, b"x")
    assert str(raised.value) == f"[Errno 2] No such file or directory: '{path.parent}'"
    assert list(tmp_path.iterdir()) == []


def test_the_file_gets_the_permissions_open_gives_or_fewer_when_asked(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    write_bytes(tmp_path / "durable", b"")
    assert (tmp_path / "durable").stat().st_mode == (tmp_path / "plain").stat().st_mode
    (tmp_path / "secret").write_bytes(b"")
    (tmp_path / "secret").chmod(0o644)
    write_bytes(tmp_path / "secret", b"key", mode=0o600)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_concurrent_writers_each_replace_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "target"
    contents = [bytes([writer]) * 4096 for writer in range(4)]

    def write(content: bytes) -> None:
        for _ in range(25):
            write_bytes(path, content)

    threads = [threading.Thread(target=write, args=(content,)) for content in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_bytes() in contents
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


@settings(max_examples=50, deadline=None)
@given(old=st.none() | st.binary(max_size=300), chunks=st.lists(st.binary(max_size=300), max_size=4))
def test_appending_keeps_every_byte_and_syncs_the_directory_while_the_file_is_empty(
        old: bytes | None, chunks: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal"
        if old is not None:
            path.write_bytes(old)
        with directories_synced() as synced, open_append(path) as out:
            for chunk in chunks:
                out.write(chunk)
        assert path.read_bytes() == (old or b"") + b"".join(chunks)
        assert synced == ([] if old else [Path(directory)])


def test_appending_in_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No such file or directory"):
        open_append(tmp_path / "gone" / "journal")
