"""Replay source: event-time order and data problems named with coin and time range, never filled."""

from __future__ import annotations

from pathlib import Path

import pytest

from sources.history_files import ImportFileError
from sources.replay import HOUR_MS, ReplayError, load_files, replay

HEADER = "timestamp,coin,open,high,low,close,volume\n"


def _candles(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    path.write_text(HEADER + "".join(f"{ts},{coin},{px},{px},{px},{px},1\n" for ts, coin, px in rows))
    return path


def _funding(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("timestamp,coin,funding_rate\n" + "".join(f"{ts},{coin},0.00001\n" for ts, coin in rows))
    return path


def _hours(coin: str, hours: list[int]) -> list[tuple[str, str, float]]:
    return [(f"2024-10-01T{h:02d}:00:00Z", coin, 100.0 + h) for h in hours]


def test_holes_late_starts_and_missing_funding_are_named_with_coin_and_range(tmp_path: Path) -> None:
    candles = _candles(tmp_path / "c.csv", _hours("ETH", [0, 1, 2, 5, 6]) + _hours("SOL", [2, 3, 4, 5, 6]))
    funding = _funding(tmp_path / "f.csv", [(f"2024-10-01T{h:02d}:00:00Z", c) for h in range(0, 8)
                                             for c in ("ETH", "SOL") if not (c == "SOL" and h in (4, 5))])
    recording = load_files([candles, funding], ["ETH", "SOL"])
    found = [problem.describe() for problem in recording.problems]
    assert found == [
        "hole: ETH 2024-10-01T03:00:00Z .. 2024-10-01T05:00:00Z (2 bars missing)",
        "starts late: SOL 2024-10-01T00:00:00Z .. 2024-10-01T02:00:00Z (no bars before)",
        "no funding: SOL 2024-10-01T04:00:00Z .. 2024-10-01T05:00:00Z (charged nothing)",
    ]
    # Nothing is filled in: the hole stays a hole in the replay.
    eth_times = [event.ts for _, events in replay(recording) for event in events
                 if event.coin == "ETH" and type(event).__name__ == "Bar"]
    assert eth_times == [h * HOUR_MS + 1727740800000 for h in (0, 1, 2, 5, 6)]


def test_events_come_in_event_time_order_bars_at_their_close(tmp_path: Path) -> None:
    candles = _candles(tmp_path / "c.csv", _hours("ETH", [0, 1]) + _hours("SOL", [0, 1]))
    funding = _funding(tmp_path / "f.csv", [("2024-10-01T01:00:00.050Z", "ETH")])
    steps = [(ms - 1727740800000, [(type(e).__name__, e.coin) for e in events])
             for ms, events in replay(load_files([candles, funding], ["ETH", "SOL"]))]
    assert steps == [(HOUR_MS, [("Bar", "ETH"), ("Bar", "SOL")]), (HOUR_MS + 50, [("Funding", "ETH")]),
                     (2 * HOUR_MS, [("Bar", "ETH"), ("Bar", "SOL")])]


def test_a_coin_without_bars_in_the_window_is_an_error_naming_it(tmp_path: Path) -> None:
    candles = _candles(tmp_path / "c.csv", _hours("ETH", [0, 1, 2]))
    with pytest.raises(ReplayError, match=r"no 1h bars for SOL in 2024-10-01T00:00:00Z \.\. end"):
        load_files([candles], ["ETH", "SOL"], start_ms=1727740800000)


def test_an_unsorted_file_is_refused_naming_coin_time_and_line(tmp_path: Path) -> None:
    candles = _candles(tmp_path / "c.csv", _hours("ETH", [0, 2, 1]))
    with pytest.raises(ImportFileError, match=r"c\.csv:4: ETH at 2024-10-01T01:00:00Z is before line 3"):
        load_files([candles], ["ETH"])

