"""The venue's tradable universe: asset specs plus a reference price per coin.

The default universe ships as ``venue/market/default_meta.json`` (provenance in
``venue/market/README.md``); a custom one is the same JSON shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from venue.engine import AssetSpec

__all__ = ["Listing", "Universe", "default_universe", "load_universe"]


@dataclass(frozen=True)
class Listing:
    """One perp listing: the engine's asset spec and where its price starts."""

    spec: AssetSpec
    reference_px: float

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Universe:
    """Ordered listings; the position of a listing is its asset id, as in ``meta.universe``."""

    listings: tuple[Listing, ...]

    @property
    def names(self) -> list[str]:
        return [listing.name for listing in self.listings]

    @property
    def specs(self) -> list[AssetSpec]:
        return [listing.spec for listing in self.listings]

    def asset_id(self, coin: str) -> int:
        """Return the asset id (index in the universe) of `coin`."""
        for index, listing in enumerate(self.listings):
            if listing.name == coin:
                return index
        raise KeyError(f"coin {coin!r} is not in the venue universe ({', '.join(self.names)})")

    def listing(self, coin: str) -> Listing:
        """Return the listing of `coin`."""
        return self.listings[self.asset_id(coin)]

    def subset(self, coins: list[str]) -> Universe:
        """Return a universe with only `coins`, in the order given."""
        return Universe(tuple(self.listing(coin) for coin in coins))


def load_universe(path: Path) -> Universe:
    """Load a universe JSON file: ``{"universe": [{"name", "szDecimals", "maxLeverage", "referencePx"}]}``."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"universe file {path} could not be read: {error}") from None
    return _parse(document, str(path))


def default_universe() -> Universe:
    """Return the shipped 18-coin universe derived from recorded Hyperliquid metas."""
    text = resources.files("venue.market").joinpath("default_meta.json").read_text()
    return _parse(json.loads(text), "default_meta.json")


def _parse(document: dict, source: str) -> Universe:
    entries = document.get("universe", []) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"universe file {source} must hold {{\"universe\": [...]}}, a list of assets")
    listings = []
    for position, entry in enumerate(entries):
        try:
            spec = AssetSpec(
                name=str(entry["name"]),
                sz_decimals=int(entry["szDecimals"]),
                max_leverage=int(entry["maxLeverage"]),
                only_isolated=bool(entry.get("onlyIsolated", False)),
            )
            reference_px = float(entry["referencePx"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"universe entry {position} in {source} is invalid: {error!r}") from None
        if reference_px <= 0:
            raise ValueError(f"universe entry {position} in {source} has referencePx {reference_px}, must be > 0")
        listings.append(Listing(spec, reference_px))
    if not listings:
        raise ValueError(f"universe in {source} lists no assets")
    return Universe(tuple(listings))
