"""Reading external history and depth files: layouts, interval inference and every kind of malformed file."""

from __future__ import annotations

from pathlib import Path

import io
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.errors import one_line

from sources.book_files import read_depth_file
from sources.history_files import ImportFileError, read_history_file

LONG_HEADER = "timestamp,coin,open,high,low,close,volume\n"


def write(tmp_path: Path, text: str, name: str = "history.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def long_rows(times: list[str], coin: str = "BTC", close: float = 100.0) -> str:
    return "".join(f"{t},{coin},{close},{close + 1},{close - 1},{close},2.5\n" for t in times)


def test_long_candles_are_read_with_the_inferred_interval(tmp_path: Path) -> None:
    text = LONG_HEADER + long_rows(["2024-09-04T11:00:00Z", "2024-09-04T12:00:00Z", "2024-09-04T14:00:00Z"])
    history = read_history_file(write(tmp_path, text + long_rows(["2024-09-04T11:00:00Z"], "ETH", 5.0)))
    assert (history.kind, history.layout, history.interval, history.coins) == ("candles", "long", "1h", ["BTC", "ETH"])
    first = history.candles[0]
    assert (first.id, first.ts, first.close_ts, first.open, first.high, first.low, first.volume) == (
        "BTC:1h:1725447600000", 1_725_447_600_000, 1_725_451_199_999, 100.0, 101.0, 99.0, 2.5)


@pytest.mark.parametrize(
    ("times", "label"),
    [(["1", "2", "3"], "1s"), (["20240101", "20240102", "20240104"], "1d"), (["1700000000000", "1700000900000"], "15m")],
)
def test_interval_is_inferred_from_epoch_and_yyyymmdd_times(tmp_path: Path, times: list[str], label: str) -> None:
    assert read_history_file(write(tmp_path, LONG_HEADER + long_rows(times))).interval == label


def test_wide_layout_gives_one_close_per_symbol_and_skips_empty_cells(tmp_path: Path) -> None:
    text = "date,BTC,ETH\n20240101,42000,2300.5\n20240102,43000,\n20240103,44000,2400\n"
    history = read_history_file(write(tmp_path, text))
    assert (history.layout, history.interval, history.coins) == ("wide", "1d", ["BTC", "ETH"])
    assert [(c.coin, c.ts, c.open, c.close, c.volume) for c in history.candles if c.coin == "ETH"] == [
        ("ETH", 1_704_067_200_000, 2300.5, 2300.5, 0.0), ("ETH", 1_704_240_000_000, 2400.0, 2400.0, 0.0)]


def test_funding_rows_are_keyed_by_hour(tmp_path: Path) -> None:
    text = "coin,timestamp,funding_rate\nBTC,2024-09-01T00:00:00.068Z,1.25e-05\nBTC,2024-09-01T01:00:00.097Z,-3e-06\n"
    history = read_history_file(write(tmp_path, text))
    assert [(f.id, f.ts, f.rate) for f in history.funding] == [
        ("BTC:1725148800000", 1_725_148_800_068, 1.25e-05), ("BTC:1725152400000", 1_725_152_400_097, -3e-06)]


def test_parquet_files_read_like_csv(tmp_path: Path) -> None:
    table = pa.table({"timestamp": pa.array([0, 60_000_000, 120_000_000], pa.timestamp("us", tz="UTC")),
                      "coin": ["SOL"] * 3, "open": [1.0, 2.0, 3.0], "high": [1.0, 2.0, 3.0],
                      "low": [1.0, 2.0, 3.0], "close": [1.0, 2.0, 3.0], "volume": [0.0, 1.0, 2.0]})
    pq.write_table(table, tmp_path / "bars.parquet")
    history = read_history_file(tmp_path / "bars.parquet")
    assert history.interval == "1m" and [c.ts for c in history.candles] == [0, 60_000, 120_000]
    wide = pa.table({"date": [20240101, 20240102], "BTC": [42000.0, 43000.0]})
    pq.write_table(wide, tmp_path / "wide.parquet")
    daily = read_history_file(tmp_path / "wide.parquet")
    assert (daily.layout, daily.interval, daily.candles[0].ts) == ("wide", "1d", 1_704_067_200_000)
    bad = table.set_column(3, "high", pa.array([1.0, -2.0, 3.0]))
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(ImportFileError, match=r"bad\.parquet:3: high -2\.0 is not a positive price"):
        read_history_file(tmp_path / "bad.parquet")


MALFORMED = [
    ("wrong-column", "timestamp,coin,open,high,low,close,vol\n",
     r":1: columns were .*; expected .* \(unexpected: vol\) \(missing: volume\)"),
    ("no-layout", "when,what\n1,2\n", r":1: columns were when, what; expected"),
    ("repeated-column", "date,BTC,BTC\n", r":1: column 'btc' appears twice"),
    ("unsorted", LONG_HEADER + long_rows(["2024-01-01T02:00:00Z", "2024-01-01T01:00:00Z"]),
     r":3: BTC at 2024-01-01T01:00:00Z is before line 2 .*must be sorted"),
    ("duplicate", LONG_HEADER + long_rows(["2024-01-01T01:00:00Z", "2024-01-01T01:00:00Z"]),
     r":3: BTC at 2024-01-01T01:00:00Z repeats the row on line 2"),
    ("zero-price", LONG_HEADER + "1,BTC,1,1,1,1,1\n2,BTC,1,1,0,1,1\n", r":3: low '0' is not a positive price"),
    ("negative-close", "date,BTC\n20240101,5\n20240102,-5\n", r":3: BTC '-5' is not a positive price"),
    ("nan-price", LONG_HEADER + "1,BTC,nan,1,1,1,1\n", r":2: open 'nan' is not a finite number"),
    ("text-price", LONG_HEADER + "1,BTC,abc,1,1,1,1\n", r":2: open 'abc' is not a number"),
    ("negative-volume", LONG_HEADER + "1,BTC,1,1,1,1,-1\n", r":2: volume '-1' is negative"),
    ("low-above-high", LONG_HEADER + "1,BTC,1,1,2,1,1\n", r":2: BTC bar open 1.0, high 1.0, low 2.0, close 1.0 is inconsistent"),
    ("bad-time", LONG_HEADER + "yesterday,BTC,1,1,1,1,1\n", r":2: timestamp 'yesterday' is not ISO 8601"),
    ("short-row", LONG_HEADER + "1,BTC,1,1\n", r":2: row had 4 fields; the header has 7"),
    ("sub-second", LONG_HEADER + "1000,BTC,1,1,1,1,1\n1000000000001,BTC,1,1,1,1,1\n1000000000501,BTC,1,1,1,1,1\n",
     r":4: bar interval 500 ms is not a whole number of seconds"),
    ("off-grid", LONG_HEADER + long_rows(["0", "60", "150"]), r":4: step of 90000 ms is not a multiple of the 1m"),
    ("one-bar", LONG_HEADER + long_rows(["0"]), r":2: at least two bars"),
    ("funding-repeat", "timestamp,coin,funding_rate\n2024-01-01T00:00:00Z,BTC,1e-5\n2024-01-01T00:30:00Z,BTC,1e-5\n",
     r":3: BTC at 2024-01-01T00:00:00Z repeats the row on line 2"),
    ("funding-rate", "timestamp,coin,funding_rate\n2024-01-01T00:00:00Z,BTC,inf\n", r":2: funding_rate 'inf' is not a finite"),
    ("empty", "", r":1: file was empty"),
    ("bad-symbol", "date,BTC,has space\n", r":1: column 'has space' is not a symbol name"),
]


BOOK_HEADER = "timestamp,coin,bid_px_1,bid_sz_1,ask_px_1,ask_sz_1,bid_px_2,bid_sz_2,ask_px_2,ask_sz_2\n"
# Book snapshot and trade files for --fill book (sources.book_files), as README describes their refusals.
MALFORMED_DEPTH = [
    ("crossed-book", BOOK_HEADER + "2024-01-01T00:00:00Z,ETH,101,1,100,1,,,,\n",
     r":2: ETH book is crossed: best bid 101\.0 >= best ask 100\.0"),
    ("bids-not-falling", BOOK_HEADER + "2024-01-01T00:00:00Z,ETH,100,1,101,1,100.5,1,102,1\n",
     r":2: bid_px_2 100\.5 does not fall from level 1 \(100\.0\)"),
    ("asks-not-rising", BOOK_HEADER + "2024-01-01T00:00:00Z,ETH,100,1,101,1,99,1,100.5,1\n",
     r":2: ask_px_2 100\.5 does not rise from level 1 \(101\.0\)"),
    ("level-without-size", BOOK_HEADER + "2024-01-01T00:00:00Z,ETH,100,1,101,1,99,,,\n",
     r":2: bid level 2 has a price but no size"),
    ("books-out-of-order", BOOK_HEADER + "2024-01-01T00:00:01Z,ETH,100,1,101,1,,,,\n"
     "2024-01-01T00:00:00Z,ETH,100,1,101,1,,,,\n", r":3: ETH at 2024-01-01T00:00:00Z is before line 2 "),
    ("trades-out-of-order", "timestamp,coin,side,px,sz\n2024-01-01T00:00:01Z,ETH,B,100,1\n"
     "2024-01-01T00:00:00Z,ETH,A,100,1\n", r":3: ETH at 2024-01-01T00:00:00Z is before line 2 "),
    ("trade-side", "timestamp,coin,side,px,sz\n2024-01-01T00:00:00Z,ETH,buy,100,1\n", r":2: side 'buy' is not B"),
]


@pytest.mark.parametrize(("read", "case", "text", "message"),
                         [(read_history_file, *case) for case in MALFORMED]
                         + [(read_depth_file, *case) for case in MALFORMED_DEPTH],
                         ids=[case[0] for case in MALFORMED + MALFORMED_DEPTH])
def test_each_kind_of_malformed_file_is_named_with_file_line_and_value(tmp_path: Path, read, case: str, text: str,
                                                                         message: str) -> None:
    path = write(tmp_path, text, f"{case}.csv")
    with pytest.raises(ImportFileError, match=message) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}:") and "\n" not in str(caught.value)


def test_unsupported_or_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"absent\.csv: file was not found"):
        read_history_file(tmp_path / "absent.csv")
    with pytest.raises(ImportFileError, match=r"file type '\.xlsx' is not supported"):
        read_history_file(write(tmp_path, "x", "book.xlsx"))
    with pytest.raises(ImportFileError, match=r"Parquet file could not be read"):
        read_history_file(write(tmp_path, "not parquet", "broken.parquet"))


def _parquet_bytes() -> bytes:
    table = pa.table({"timestamp": pa.array([0, 60_000_000], pa.timestamp("us", tz="UTC")), "coin": ["SOL"] * 2,
                      "open": [1.0, 2.0], "high": [1.0, 2.0], "low": [1.0, 2.0], "close": [1.0, 2.0],
                      "volume": [0.0, 1.0]})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


_GOOD_PARQUET = _parquet_bytes()


def _pyarrows_reason(path: Path) -> str | None:
    """Return why pyarrow cannot give the file's column names and values, folded to one line; None when it can."""
    try:
        table = pq.read_table(path)
        for _name, column in zip(table.column_names, table.columns, strict=True):  # a name may not be UTF-8
            column.to_pylist()
    except Exception as error:  # noqa: BLE001 - pyarrow raises several unrelated types, as the importer knows
        return one_line(str(error))
    return None


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300) | st.binary(max_size=100).map(lambda raw: b"PAR1" + raw + b"PAR1")
       | st.integers(0, len(_GOOD_PARQUET) - 1).map(lambda cut: _GOOD_PARQUET[:cut])
       | st.tuples(st.integers(4, len(_GOOD_PARQUET) - 5), st.binary(min_size=1, max_size=8)).map(
           lambda at: _GOOD_PARQUET[:at[0]] + at[1] + _GOOD_PARQUET[at[0] + len(at[1]):]))
def test_a_damaged_parquet_file_is_one_line_with_the_readers_whole_reason(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bars.parquet"
        path.write_bytes(data)
        reason = _pyarrows_reason(path)
        try:
            read_history_file(path)
        except ImportFileError as error:
            message = str(error)
            assert "\n" not in message
            if reason is not None:
                assert message == f"{path}: Parquet file could not be read: {reason}"
        else:
            assert reason is None
