"""The operator controls reach the execution desk: a paused desk refuses entries, a flatten request closes positions."""

from __future__ import annotations

from pathlib import Path

from pairflow.control import Control
from pairflow.events import Signal
from tests.integration.desk_support import assert_last_order_closed_the_position, desk_long_eth
from tests.integration.test_order_router import Setup, venue  # noqa: F401 - the venue fixture


def test_pause_refuses_entries_and_a_flatten_request_closes_positions_once(venue: Setup, tmp_path: Path) -> None:
    control = Control()
    desk, bar = desk_long_eth(venue, tmp_path, "sig-c", control=control)
    now = venue.engine.now_ms
    assert desk.position("ETH") == 1.5

    control.pause_entries()
    entry = Signal(ts=now, id="ETH/BTC:1", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                   reason="entry-long", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(0.1, -0.01))
    sent = len(venue.requests)
    (refused,) = [e for e in desk.on_events([entry]) if type(e).__name__ == "Alert"]
    assert "paused by the operator" in refused.message
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]

    control.request_flatten()
    out = desk.on_events([bar])
    assert any(type(e).__name__ == "Alert" and "flattened by the operator" in e.message for e in out)
    assert desk.position("ETH") == 0.0
    assert_last_order_closed_the_position(venue)
    sent = len(venue.requests)
    desk.on_events([bar])  # the same request is acted on once
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]

    control.resume_entries()
    assert desk.halted == "" and control.entries_allowed()
