"""The one atomic, durable file write: any content reads back whole, a write that fails part-way leaves the old file
and no temporary behind, and a missing directory is one clear error."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.durable_file import AppendLog, make_directories, open_append, replace_file, write_bytes
from tests.support.durability import directories_synced, files_synced


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


@settings(max_examples=50, deadline=None)
@given(existing=st.integers(0, 3), missing=st.integers(0, 3))
def test_new_directories_are_each_synced_into_their_parent_top_down(existing: int, missing: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        levels = [Path(root, *(f"d{level}" for level in range(depth + 1))) for depth in range(existing + missing)]
        if existing:
            levels[existing - 1].mkdir(parents=True)
        target = levels[-1] if levels else Path(root)
        with directories_synced() as synced:
            make_directories(target)
        assert target.is_dir()
        assert synced == [level.parent for level in levels[existing:]]


LINES = st.lists(st.binary(max_size=40).filter(lambda line: b"\n" not in line), max_size=4)


@settings(max_examples=50, deadline=None)
@given(sessions=st.lists(st.tuples(LINES, st.binary(max_size=20).filter(lambda torn: b"\n" not in torn)),
                         min_size=1, max_size=3), fsync=st.booleans())
def test_an_append_log_reads_back_every_line_syncs_each_exactly_with_fsync_and_ends_a_torn_one(
        sessions: list[tuple[list[bytes], bytes]], fsync: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "new" / "log"
        expected = b""
        for number, (lines, torn) in enumerate(sessions):
            with directories_synced() as directories, files_synced() as files:
                log = AppendLog(path, fsync=fsync)
                assert log.written == expected  # a torn last line as it was: readers drop what follows the last newline
                for line in lines:
                    log.append(line)
                log.close()
            assert directories == ([Path(directory), path.parent] if number == 0 else
                                   [path.parent] if not expected else [])  # synced while the file is empty
            assert files == ([path] * len(lines) if fsync else [])
            expected += (b"\n" if expected and not expected.endswith(b"\n") else b"")  # the open ended it
            expected += b"".join(line + b"\n" for line in lines)
            with path.open("ab") as out:  # killed mid-line, or not (an empty torn part)
                out.write(torn)
            expected += torn
        assert AppendLog(path).written == expected


def test_a_directory_under_a_file_is_the_standard_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="Not a directory"):
        make_directories(tmp_path / "a-file" / "journal")


def test_appending_in_a_missing_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No such file or directory"):
        open_append(tmp_path / "gone" / "journal")


_BLOCKED_WRITER = """
import sys, threading
from pathlib import Path
from pairflow.durable_file import replace_file

def write(out):
    out.write(b"half of the new content")
    out.flush()
    print("writing", flush=True)
    threading.Event().wait()

replace_file(Path(sys.argv[1]), write)
"""


def _blocked_writer(path: Path) -> subprocess.Popen:
    writer = subprocess.Popen([sys.executable, "-c", _BLOCKED_WRITER, str(path)], stdout=subprocess.PIPE)
    assert writer.stdout.readline() == b"writing\n"
    return writer


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", ""])
    ended.wait()
    return ended.pid


def test_a_write_removes_the_temporary_of_a_writer_killed_mid_write_never_a_running_ones(tmp_path: Path) -> None:
    path = tmp_path / "target"
    path.write_bytes(b"old")
    killed, live = _blocked_writer(path), _blocked_writer(path)
    try:
        killed.kill()
        killed.wait()
        left = {f".target.{killed.pid}-0.tmp", f".target.{live.pid}-0.tmp"}
        assert {p.name for p in tmp_path.iterdir()} == {"target", *left}
        write_bytes(path, b"new")
        assert {p.name for p in tmp_path.iterdir()} == {"target", f".target.{live.pid}-0.tmp"}
        assert path.read_bytes() == b"new"
    finally:
        live.kill()
        live.wait()
    subprocess.run([sys.executable, "-c", "import sys; from pairflow.durable_file import write_bytes; "
                    "write_bytes(sys.argv[1], b'next')", str(path)], check=True)
    assert [p.name for p in tmp_path.iterdir()] == ["target"]  # the next process to write swept it
    assert path.read_bytes() == b"next"


def test_a_temporary_whose_writer_holds_its_lock_is_kept_whatever_its_pid(tmp_path: Path) -> None:
    """A writer in another PID namespace sharing the directory: its PID is not running here, but it is writing."""
    temporary = tmp_path / f".target.{_dead_pid()}-0.tmp"
    with temporary.open("wb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        write_bytes(tmp_path / "target", b"new")
        assert temporary.exists()


_DEAD = _dead_pid()
_STEMS = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=20)
_PIDS = st.sampled_from([_DEAD, os.getpid(), os.getppid(), 0, 99_999_999_999, "12a", "-5", ""])
_TEMPORARY_LIKE = st.builds(lambda stem, pid, call: (f".{stem}.{pid}-{call}.tmp", pid == _DEAD), _STEMS, _PIDS,
                            st.integers(0, 99))
_OTHER = _STEMS.filter(lambda name: name not in (".", "..", "target") and not name.endswith(".tmp")).map(
    lambda name: (name, False))


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(st.tuples(_TEMPORARY_LIKE | _OTHER, st.sampled_from(["file", "directory", "symlink"])),
                        max_size=6, unique_by=lambda entry: entry[0][0]))
def test_a_write_removes_only_files_named_as_a_dead_writers_temporary(
        entries: list[tuple[tuple[str, bool], str]]) -> None:
    directory = Path(tempfile.mkdtemp())
    try:
        for (name, _), kind in entries:
            if kind == "file":
                (directory / name).write_bytes(b"x")
            elif kind == "directory":
                (directory / name).mkdir()
            else:
                (directory / name).symlink_to(directory / "elsewhere")
        write_bytes(directory / "target", b"new")
        kept = {name for (name, dead_writer), kind in entries if not (dead_writer and kind == "file")}
        assert {p.name for p in directory.iterdir()} == {"target"} | kept
    finally:
        shutil.rmtree(directory)
