"""REST backfill from the local venue into chDB: complete, idempotent and resumable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from pairflow.config import StorageSettings
from pairflow.hyperliquid.client import InfoClient
from pairflow.storage import Store, connect
from sources.backfill import BackfillReport, backfill
from tests.support.wire_engine import WireEngine
from tests.integration.venue_support import MINUTE_MS, fund_accounts, make_engine, take
from tests.support.venue import run_venue
from venue.engine import Engine

T0 = 1_725_148_800_000  # 2024-09-01T00:00:00Z
MINUTES = 1_100
END = T0 + MINUTES * MINUTE_MS - 1


@pytest.fixture(scope="module")
def history() -> Iterator[tuple[Engine, str]]:
    """A venue whose ETH traded once a minute for 1100 minutes from 2024-09-01 (BTC never traded)."""
    engine = make_engine(T0)
    fund_accounts(engine)
    for minute in range(MINUTES):
        engine.advance(T0 + minute * MINUTE_MS + 1_000)
        take(engine)
    engine.advance(END)
    with run_venue(engine, clock=lambda: END) as url:
        yield engine, url


def _run(store: Store, url: str, tmp_path: Path, progress=None) -> BackfillReport:
    async def go() -> BackfillReport:
        async with InfoClient(url) as info:
            return await backfill(store, info, ["ETH", "BTC"], T0, END, "1m", progress=progress,
                                  storage=StorageSettings(spill_dir=tmp_path / "spill"))

    return asyncio.run(go())


def _stored(store: Store) -> tuple[list[tuple], list[tuple]]:
    candles = store.query("SELECT coin, ts, close_ts, open, high, low, close, volume, trades FROM candles FINAL"
                          " WHERE interval = '1m' ORDER BY coin, ts")
    funding = store.query("SELECT coin, ts, rate, premium FROM funding FINAL ORDER BY coin, ts")
    return candles, funding


def _expected(engine: Engine) -> tuple[list[tuple], list[tuple]]:
    candles = [("ETH", c["t"], c["T"], float(c["o"]), float(c["h"]), float(c["l"]), float(c["c"]), float(c["v"]),
                c["n"]) for c in WireEngine(engine).candle_snapshot("ETH", "1m", T0, END) if T0 <= c["t"] <= END]
    funding = [(coin, f["time"], float(f["fundingRate"]), float(f["premium"]))
               for coin in ("BTC", "ETH") for f in WireEngine(engine).funding_history(coin, T0, END)]
    return candles, funding


def test_backfill_stores_every_candle_and_funding_row_once_even_when_run_twice(history, store, tmp_path) -> None:
    engine, url = history
    expected_candles, expected_funding = _expected(engine)
    assert len(expected_candles) == MINUTES and len(expected_funding) >= 2 * 18

    first = _run(store, url, tmp_path)
    assert first.candles == {"ETH": MINUTES, "BTC": 0}
    assert first.funding["ETH"] + first.funding["BTC"] == len(expected_funding)
    assert _stored(store) == (expected_candles, expected_funding)

    second = _run(store, url, tmp_path)
    assert second.resumed_from["ETH"] == expected_candles[-1][1]
    assert second.candles == {"ETH": 1, "BTC": 0}
    assert second.funding == {"ETH": 0, "BTC": 0}
    assert _stored(store) == (expected_candles, expected_funding)
    ((rows, ids),) = store.query("SELECT count(), uniqExact(id) FROM candles FINAL")
    assert rows == ids == MINUTES


def test_interrupted_backfill_resumes_from_the_last_stored_candle(history, store, tmp_path) -> None:
    engine, url = history
    windows: list[tuple[str, str, int]] = []

    def interrupt_after_first_window(coin: str, table: str, done_ms: int, total_ms: int, rows: int) -> None:
        windows.append((coin, table, rows))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(store, url, tmp_path, progress=interrupt_after_first_window)
    assert windows == [("ETH", "candles", 500)]
    partial, _ = _stored(store)
    assert len(partial) == 500

    resumed = _run(store, url, tmp_path)
    assert resumed.resumed_from["ETH"] == partial[-1][1] == T0 + 499 * MINUTE_MS
    assert resumed.candles["ETH"] == MINUTES - 499
    assert _stored(store) == _expected(engine)


def test_backfill_command_loads_the_range_and_reports_rows(history, tmp_path, monkeypatch) -> None:
    engine, url = history
    monkeypatch.setenv("PAIRFLOW_STORAGE__DSN", f"chdb://{tmp_path}/cli")
    monkeypatch.setenv("PAIRFLOW_STORAGE__SPILL_DIR", str(tmp_path / "spill"))
    monkeypatch.setenv("PAIRFLOW_CONFIG", str(tmp_path / "absent-is-fine.toml"))
    (tmp_path / "absent-is-fine.toml").write_text("")
    result = CliRunner().invoke(app, ["backfill", "--coins", "ETH", "--from", "2024-09-01", "--to", "2024-09-02",
                                      "--interval", "1h", "--url", url])
    assert result.exit_code == 0, result.output
    hours = (END - T0) // 3_600_000 + 1
    assert f"ETH: {hours} candles" in result.output
    with connect(StorageSettings(dsn=f"chdb://{tmp_path}/cli")) as reopened:
        assert reopened.count("candles", "coin = 'ETH' AND interval = '1h'") == hours

    bad = CliRunner().invoke(app, ["backfill", "--coins", "ETH", "--from", "2024-09-01", "--to", "2024-09-02",
                                   "--interval", "7x", "--url", url])
    assert bad.exit_code == 2 and "candle interval '7x'" in bad.output
