"""What native code writes to stderr during a call is either written back after it or folded into the caller's error."""

from __future__ import annotations

import os

import pytest

from pairflow.storage.native_stderr import native_stderr


def test_what_is_not_folded_reaches_stderr_after_the_block(capfd) -> None:
    with native_stderr() as caught:
        os.write(2, b"a notice from C++\n")
        assert capfd.readouterr().err == ""
        assert caught.text() == "a notice from C++\n"
    assert capfd.readouterr().err == "a notice from C++\n"


def test_what_is_folded_is_written_nowhere_and_an_error_still_propagates(capfd) -> None:
    with pytest.raises(RuntimeError, match="Cannot lock file"), native_stderr() as caught:
        os.write(2, b"Code: 76. DB::Exception: Cannot lock file d/status.\n")
        raise RuntimeError(f"cannot open: {caught.fold().strip()}")
    assert capfd.readouterr().err == ""
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
