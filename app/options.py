"""Options and parsers shared by several commands, so each is spelled and validated once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from pairflow.config import CollectorSettings, config_error_from
from pairflow.errors import PairflowError

__all__ = ["ConfigOption", "UrlOption", "override_collector", "parse_coins"]

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML file to load (default: $PAIRFLOW_CONFIG or ./pairflow.toml)."),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="API: 'mainnet', 'testnet' or an http(s):// base URL such as the local venue (collector.url)."
    ),
]


def parse_coins(text: str | None) -> list[str]:
    """Split ``'BTC, ETH'`` into ``['BTC', 'ETH']``; raise a PairflowError on an empty name."""
    if text is None:
        return []
    coins = [coin.strip() for coin in text.split(",")]
    if not all(coins):
        raise PairflowError(f"--coins {text!r} must be a comma-separated list of coin names such as BTC,ETH")
    return coins


def override_collector(
    settings: CollectorSettings, url: str | None = None, coins: str | None = None, top: int | None = None
) -> CollectorSettings:
    """Return collector settings with the command-line values that were given, validated like the config."""
    updates: dict[str, object] = {}
    if url is not None:
        updates["url"] = url
    if coins is not None:
        updates["coins"] = parse_coins(coins)
    if top is not None:
        updates["top_n"] = top
    try:
        return CollectorSettings.model_validate({**settings.model_dump(), **updates})
    except ValidationError as error:
        raise config_error_from(error) from None
