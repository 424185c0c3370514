"""The market configs' declared ranges: a config is built exactly when every value is within them."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venue.market.factor_model import CointegrationGroup, FactorModelConfig
from venue.market.participants import TakerConfig
from venue.market.quoting import QuoteConfig

# Each config with the arguments it needs besides the one under test.
CONFIGS = {
    QuoteConfig: {},
    TakerConfig: {},
    CointegrationGroup: {"coins": ("A", "B")},
    FactorModelConfig: {"reference_px": {"A": 10.0}},
}
BOUNDED = [(config, item.name, item.metadata["bounds"])
           for config in CONFIGS for item in fields(config) if "bounds" in item.metadata]
WITHIN = {"gt": lambda value, limit: value > limit, "ge": lambda value, limit: value >= limit,
          "lt": lambda value, limit: value < limit, "le": lambda value, limit: value <= limit}
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-100, 100),
                   st.sampled_from([0, 0.0, -0.0, 1, 50, 51, 10.0, 9.999]))


def test_every_config_declares_its_ranges() -> None:
    assert {config for config, _, _ in BOUNDED} == set(CONFIGS)
    assert ("levels", {"ge": 1, "le": 50}) in [(name, limits) for config, name, limits in BOUNDED if config is QuoteConfig]


@pytest.mark.parametrize(("config", "name", "limits"), BOUNDED, ids=[f"{c.__name__}.{n}" for c, n, _ in BOUNDED])
@given(value=values)
def test_a_config_is_built_exactly_when_the_value_is_within_its_range(config, name, limits, value) -> None:
    allowed = not (isinstance(value, float) and math.isnan(value)) and all(
        WITHIN[kind](value, limit) for kind, limit in limits.items())
    if allowed:
        assert getattr(config(**CONFIGS[config], **{name: value}), name) == value
    else:
        with pytest.raises(ValueError) as refused:
            config(**CONFIGS[config], **{name: value})
        message = str(refused.value)
        assert message.startswith(f"{name} must be ") and message.endswith(f", was {value!r}")
        assert "\n" not in message

