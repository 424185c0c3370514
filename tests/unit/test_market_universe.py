"""The shipped default universe and custom universe files."""

from __future__ import annotations

import csv
import json

import pytest

from tests.helpers import SHARED
from venue.universe import default_universe, load_universe

RECORDED_COINS = {
    "AAVE", "ADA", "APT", "ARB", "AVAX", "BNB", "BTC", "DOGE", "DOT",
    "ETH", "LINK", "LTC", "NEAR", "SOL", "SUI", "TRX", "UNI", "XRP",
}


def test_default_universe_lists_the_recorded_coins_with_btc_first():
    universe = default_universe()
    assert set(universe.names) == RECORDED_COINS
    assert universe.asset_id("BTC") == 0
    assert universe.listing("ETH").spec.sz_decimals == 4
    assert all(listing.reference_px > 0 for listing in universe.listings)


@pytest.mark.skipif(not (SHARED / "hyperliquid" / "fixtures").is_dir(), reason="shared fixtures not present")
def test_default_universe_matches_the_recorded_metas():
    fixtures = SHARED / "hyperliquid" / "fixtures"
    old = {u["name"]: u for u in json.loads((fixtures / "info_meta_2023.json").read_text())["response"]["universe"]}
    new = {
        u["name"]: u
        for u in json.loads((fixtures / "http_mainnet_2026_thirdparty.json").read_text())["response"]["meta_first6"]["universe"]
    }
    for listing in default_universe().listings:
        recorded = new.get(listing.name) or old.get(listing.name)
        if recorded is not None:
            assert (listing.spec.sz_decimals, listing.spec.max_leverage) == (
                recorded["szDecimals"],
                recorded["maxLeverage"],
            ), listing.name


@pytest.mark.skipif(not (SHARED / "data" / "hyperliquid").is_dir(), reason="shared recordings not present")
def test_recorded_prices_fit_the_price_decimals_of_each_coin():
    universe = default_universe()
    path = next((SHARED / "data" / "hyperliquid").glob("perp_1h_ohlcv_*.csv"))
    most_decimals: dict[str, int] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            for key in ("open", "high", "low", "close"):
                decimals = len(row[key].partition(".")[2].rstrip("0"))
                most_decimals[row["coin"]] = max(most_decimals.get(row["coin"], 0), decimals)
    for coin, decimals in most_decimals.items():
        assert decimals <= 6 - universe.listing(coin).spec.sz_decimals, coin


def test_subset_keeps_the_requested_order_and_unknown_coins_fail_clearly():
    universe = default_universe().subset(["SOL", "BTC"])
    assert universe.names == ["SOL", "BTC"]
    with pytest.raises(KeyError, match="'FOO' is not in the venue universe"):
        default_universe().asset_id("FOO")


def test_custom_universe_file_is_validated(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"universe": [{"name": "X", "szDecimals": 1, "maxLeverage": 3, "referencePx": "2.5"}]}))
    (listing,) = load_universe(path).listings
    assert (listing.name, listing.spec.sz_decimals, listing.spec.max_leverage, listing.reference_px) == ("X", 1, 3, 2.5)
    path.write_text(json.dumps({"universe": [{"name": "X", "szDecimals": 1, "maxLeverage": 3, "referencePx": "0"}]}))
    with pytest.raises(ValueError, match="referencePx 0.0, must be > 0"):
        load_universe(path)
    path.write_text(json.dumps({"universe": [{"name": "X"}]}))
    with pytest.raises(ValueError, match="entry 0 .* is invalid"):
        load_universe(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="could not be read"):
        load_universe(path)
