"""Fuzz: any answer to the account's own /info queries (or a user WebSocket message) parses or fails in one line.

The desk reads fills, open orders, positions and funding payments over REST, and the user stream
reads fills over the WebSocket, all through `pairflow.hyperliquid.user_parse`. A malformed answer
must raise `ParseError` (which the desk treats as an exchange fault and retries) and nothing else.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pairflow.errors import ParseError
from pairflow.hyperliquid.user_parse import (
    fills_from_wire,
    funding_from_wire,
    open_orders_from_wire,
    positions_from_wire,
)

numbers = st.one_of(st.decimals(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=6),
                    st.integers(min_value=-(10**20), max_value=10**20), st.none())
FILL = {"coin": "ETH", "px": "2215.4", "sz": "0.4152", "side": "B", "time": 5, "oid": 9, "crossed": True,
        "fee": "0.38", "tid": 77, "startPosition": "0.0", "closedPnl": "0.0"}
ORDER = {"coin": "ETH", "side": "B", "limitPx": "2000.5", "sz": "0.2", "origSz": "0.5", "oid": 4,
         "timestamp": 9, "cloid": "0x" + "ab" * 16}
STATE = {"assetPositions": [{"position": {"coin": "BTC", "szi": "-0.00785", "entryPx": "26951.0",
                                          "positionValue": "211.64542", "unrealizedPnl": "-0.08", "marginUsed": "10.58",
                                          "leverage": {"type": "cross", "value": 20}}}],
         "marginSummary": {"accountValue": "1000.5"}}
FUNDING = {"time": 7, "hash": "0x1", "delta": {"coin": "ETH", "usdc": "-0.5", "szi": "1.0", "fundingRate": "0.0001"}}
PARSERS = [
    (fills_from_wire, lambda value: [value], FILL),
    (open_orders_from_wire, lambda value: [value], ORDER),
    (positions_from_wire, lambda value: value, STATE),
    (funding_from_wire, lambda value: [value], FUNDING),
]


def spoil(value: object, path: list[str], replacement: object) -> object:
    """Return a copy of a JSON value with the leaf at ``path`` replaced."""
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[0][step] if isinstance(target, list) else target[step]
    (target[0] if isinstance(target, list) else target)[path[-1]] = replacement
    return copy


def leaves(value: object, prefix: list[str] | None = None) -> list[list[str]]:
    prefix = prefix or []
    if isinstance(value, list):
        return leaves(value[0], prefix) if value else []
    if isinstance(value, dict):
        return [path for key, item in value.items() for path in leaves(item, [*prefix, key])]
    return [prefix]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_user_data_answer_parses_or_raises_one_parse_error(data: st.DataObject) -> None:
    parse, wrap, good = data.draw(st.sampled_from(PARSERS))
    payload = wrap(spoil(good, data.draw(st.sampled_from(leaves(good))), data.draw(numbers)))
    try:
        parse(payload, 1)
    except ParseError as error:
        assert "\n" not in str(error)
