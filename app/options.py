"""Options and parsers shared by several commands, so each is spelled and validated once."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from pairflow.config import CollectorSettings, with_changes
from pairflow.errors import ConfigError

__all__ = [
    "CoinsOption", "ConfigOption", "UrlOption", "examples", "override_collector", "parse_coins", "usable_directory",
]

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

CoinsOption = Annotated[
    str | None, typer.Option("--coins", help="Comma-separated coins to collect, e.g. BTC,ETH (collector.coins).")
]


def examples(*lines: str) -> str:
    """Return an Examples block to end a help text, its lines kept as written (click's ``\\b`` marker)."""
    return "\n\n\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def parse_coins(text: str | None) -> list[str]:
    """Split ``'BTC, ETH'`` into ``['BTC', 'ETH']``; raise a PairflowError on an empty name."""
    if text is None:
        return []
    coins = [coin.strip() for coin in text.split(",")]
    if not all(coins):
        raise ConfigError(f"--coins {text!r} must be a comma-separated list of coin names such as BTC,ETH")
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
    return with_changes(settings, "collector", **updates)


def usable_directory(path: Path, option: str) -> Path:
    """Create ``path`` if needed and prove it writable, so a bad directory fails at start in one line.

    Raises
    ------
    ConfigError
        Naming the option, the path and the operating system's reason.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ConfigError(f"{option} {path} cannot be used as a directory: {error.strerror or error}") from None
    return path
