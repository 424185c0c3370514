"""Loading recorded candles/funding and the intra-hour replay path."""

from __future__ import annotations

from pathlib import Path

import pytest

from venue.market.recorded import HOUR_MS, load_csv, load_directory

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
CANDLES = DATA / "perp_1h_ohlcv_2024-10_sample.csv"
FUNDING = DATA / "perp_funding_1h_2024-10_sample.csv"
OCT_1 = 1727740800000  # 2024-10-01T00:00:00Z


def test_directory_load_reads_candles_and_funding_of_every_coin():
    data = load_directory(DATA)
    assert data.coins == ["BTC", "ETH", "SOL"]
    assert all(len(rows) == 48 for rows in data.candles.values())
    assert data.start_ms == OCT_1
    assert data.end_ms == OCT_1 + 48 * HOUR_MS
    assert data.candles["BTC"][0] == (OCT_1, 63381.0, 63675.0, 63048.0, 63593.0)
    assert data.skipped_rows == 0


def test_price_path_starts_at_open_touches_extremes_and_ends_at_close():
    data = load_csv(CANDLES, coins=["BTC"])
    start, open_, high, low, close = data.candles["BTC"][0]
    assert data.price_at("BTC", start) == open_
    assert data.price_at("BTC", start + HOUR_MS // 3) == low  # up candle: low first
    assert data.price_at("BTC", start + 2 * HOUR_MS // 3) == high
    next_open = data.candles["BTC"][1][1]
    assert data.price_at("BTC", start + HOUR_MS) == next_open
    samples = [data.price_at("BTC", start + offset) for offset in range(0, HOUR_MS, 60_000)]
    assert all(low <= px <= high for px in samples)
    assert data.price_at("BTC", start - 1) is None
    assert data.price_at("BTC", data.end_ms + 10 * HOUR_MS) == data.candles["BTC"][-1][4]


def test_funding_rate_for_an_hour_is_the_rate_settled_at_its_end():
    data = load_csv(CANDLES, FUNDING, coins=["BTC"])
    assert data.funding_rate_for_hour("BTC", OCT_1 + 10 * 60_000) == pytest.approx(2.9826e-05)
    assert data.funding_rate_for_hour("BTC", OCT_1 + HOUR_MS + 5) == pytest.approx(3.45371e-05)
    assert data.funding_rate_for_hour("BTC", OCT_1 + 100 * HOUR_MS) is None


def test_bad_rows_are_skipped_and_counted(tmp_path):
    path = tmp_path / "candles.csv"
    path.write_text(
        "timestamp,coin,open,high,low,close,volume\n"
        "2024-10-01T00:00:00Z,BTC,1,2,0.5,1.5,3\n"
        "not-a-time,BTC,1,2,0.5,1.5,3\n"
        "2024-10-01T01:00:00Z,BTC,abc,2,0.5,1.5,3\n"
        "2024-10-01T02:00:00Z,BTC,-1,2,0.5,1.5,3\n"
    )
    data = load_csv(path)
    assert len(data.candles["BTC"]) == 1
    assert data.skipped_rows == 3


def test_file_without_required_columns_is_a_one_line_error(tmp_path):
    path = tmp_path / "candles.csv"
    path.write_text("time,coin,px\n1,BTC,2\n")
    with pytest.raises(ValueError, match=r"lacks column\(s\) timestamp, open, high, low, close"):
        load_csv(path)


def test_directory_without_recordings_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no perp_1h_ohlcv_"):
        load_directory(tmp_path)
