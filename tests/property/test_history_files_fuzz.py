"""Fuzz the history-file parser: any CSV or Parquet file gives events or one ImportFileError; valid data reads back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.history_files import ImportFileError, read_history_file

def assert_read_or_refused_in_one_line(path: Path) -> None:
    """Reading ``path`` gives events with times, or one ImportFileError line naming the file."""
    try:
        history = read_history_file(path)
    except ImportFileError as error:
        assert str(error).startswith(f"{path}:") and "\n" not in str(error)
    else:
        assert all(event.ts is not None for event in history.events)


cells = st.one_of(
    st.sampled_from(["", "0", "-1", "1e309", "nan", "20240101", "2024-01-01T00:00:00Z", "BTC", "1.5", "  7 ", '"x,y"']),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8),
)
headers = st.one_of(
    st.just("timestamp,coin,open,high,low,close,volume"),
    st.just("timestamp,coin,funding_rate"),
    st.just("date,BTC,ETH"),
    st.lists(cells, min_size=1, max_size=8).map(",".join),
)


@settings(max_examples=100, deadline=None)
@given(header=headers, rows=st.lists(st.lists(cells, min_size=0, max_size=8).map(",".join), max_size=6))
def test_any_text_is_read_or_refused_with_one_line(header: str, rows: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        assert_read_or_refused_in_one_line(path)


bars = st.lists(
    st.tuples(st.integers(min_value=1, max_value=50), st.floats(min_value=1e-4, max_value=1e6, allow_nan=False)),
    min_size=2, max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(steps=bars, interval_s=st.sampled_from([1, 60, 300, 3_600, 86_400]))
def test_valid_wide_files_read_back_exactly(steps: list[tuple[int, float]], interval_s: int) -> None:
    ts = 1_600_000_000
    times, closes = [ts], [steps[0][1]]
    for step, close in [(1, steps[1][1]), *steps[2:]]:  # one single step fixes the interval
        ts += step * interval_s
        times.append(ts)
        closes.append(close)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wide.csv"
        path.write_text("timestamp,XYZ\n" + "".join(f"{t},{c!r}\n" for t, c in zip(times, closes)))
        history = read_history_file(path)
    assert [(c.ts, c.close) for c in history.candles] == [(t * 1000, c) for t, c in zip(times, closes)]
    assert history.interval == {1: "1s", 60: "1m", 300: "5m", 3_600: "1h", 86_400: "1d"}[interval_s]


parquet_columns = st.dictionaries(
    st.sampled_from(["timestamp", "coin", "open", "high", "low", "close", "volume", "funding_rate", "BTC", "date", "x"]),
    st.one_of(
        st.lists(st.integers(min_value=-(2**62), max_value=2**62), min_size=3, max_size=3),
        st.lists(st.floats(), min_size=3, max_size=3),
        st.lists(st.text(max_size=6), min_size=3, max_size=3),
        st.lists(st.none(), min_size=3, max_size=3),
    ),
    max_size=7,
)


@settings(max_examples=100, deadline=None)
@given(columns=parquet_columns, garbage=st.binary(max_size=64))
def test_any_parquet_file_is_read_or_refused_with_one_line(columns: dict[str, list], garbage: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.parquet"
        if columns:
            pq.write_table(pa.table(columns), path)
        else:
            path.write_bytes(garbage)
        assert_read_or_refused_in_one_line(path)
