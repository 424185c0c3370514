"""Venue options from config and command-line values: funding, groups, market choice."""

from __future__ import annotations

import pytest

from app.commands.venue import parse_group
from pairflow.config import VenueGroupSettings, VenueSettings, load_settings, with_changes
from pairflow.errors import ConfigError, PairflowError
from venue.market.participants import TakerConfig
from venue.market.quoting import QuoteConfig
from venue.market.synthetic import SyntheticMarket
from venue.service import VenueOptions, build_market, parse_funding
from venue.universe import default_universe

ADDRESS = "0x" + "Ab" * 20


def test_funding_entries_are_parsed_lowercased_and_summed():
    assert parse_funding([f"{ADDRESS}=100", f"{ADDRESS.lower()}=50.5"]) == {ADDRESS.lower(): 150.5}


@pytest.mark.parametrize(
    ("entry", "reason"),
    [("0x12=5", "must look like"), (f"{ADDRESS}", "must look like"), (f"{ADDRESS}=abc", "must look like"),
     (f"{ADDRESS}=-3", "must be positive"), ("0x" + "zz" * 20 + "=5", "must look like")],
)
def test_bad_funding_entry_is_a_one_line_error(entry, reason):
    with pytest.raises(ConfigError, match=reason):
        parse_funding([entry])


def test_groups_parse_with_and_without_betas():
    assert parse_group("ETH,SOL") == (["ETH", "SOL"], [])
    assert parse_group("ETH:1.0, SOL:1.3") == (["ETH", "SOL"], [1.0, 1.3])
    with pytest.raises(PairflowError, match="a beta for every coin"):
        parse_group("ETH:1.0,SOL")
    with pytest.raises(PairflowError, match="not a number"):
        parse_group("ETH:x,SOL:1")


def test_venue_section_of_the_config_file_builds_the_options(tmp_path):
    path = tmp_path / "pairflow.toml"
    path.write_text(
        "[venue]\nseed = 11\nspeed = 30.0\nhalf_life_s = 600.0\nbook_levels = 8\ntrade_rate_per_minute = 3.0\n"
        f'fund = {{ "{ADDRESS}" = 1000.0 }}\n'
        '[[venue.groups]]\ncoins = ["BTC", "LTC"]\nbetas = [1.0, 1.4]\n'
        "[metrics]\nport = 9109\n"
    )
    settings = load_settings(path)
    options = VenueOptions(settings.venue, settings.metrics, settings.storage)
    assert (options.venue.seed, options.venue.speed, options.metrics.port) == (11, 30.0, 9109)
    assert options.fund == {ADDRESS.lower(): 1000.0}
    assert options.quote.levels == 8 and options.takers.rate_per_minute == 3.0
    (group,) = options.groups
    assert (group.coins, group.betas, group.half_life_s) == (("BTC", "LTC"), (1.0, 1.4), 600.0)
    market = build_market(options, default_universe(), start_ms=0)
    assert isinstance(market, SyntheticMarket)
    assert market.model.config.groups == options.groups


@pytest.mark.parametrize(
    ("venue", "reason"),
    [
        (VenueSettings(market="replay"), "needs --replay-from"),
        (VenueSettings(market="replay", replay_from="/nonexistent/x"), "neither a directory"),
        (VenueSettings(groups=[VenueGroupSettings(coins=["ETH", "FOO"])]), "'FOO' is not in the universe"),
    ],
)
def test_market_choice_errors_name_the_cause(venue, reason):
    with pytest.raises(ConfigError, match=reason):
        build_market(VenueOptions(venue), default_universe(), start_ms=0)


def test_unknown_market_kind_is_refused_when_the_options_are_set():
    with pytest.raises(ConfigError, match=r"^invalid config: venue\.market: Input should be 'synthetic' or 'replay'"):
        with_changes(VenueSettings(), "venue", market="casino")


def test_empty_group_list_means_every_coin_walks_alone():
    market = build_market(VenueOptions(VenueSettings(groups=[])), default_universe(), start_ms=0)
    assert market.model.config.groups == ()
    assert market.model.config.group_of("ETH") is None


def test_a_venue_from_default_settings_is_the_market_library_default():
    options = VenueOptions(VenueSettings())
    assert options.quote == QuoteConfig() and options.takers == TakerConfig()
    universe = default_universe()
    from_settings = build_market(options, universe, start_ms=0)
    assert from_settings.model.config == SyntheticMarket.build(universe).model.config
