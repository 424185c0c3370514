"""The venue link drops under ``pairflow run execution`` just as it sends an order: nothing lost, nothing sent twice.

The stage reaches the venue (REST and its account's WebSocket) through a proxy
(`tests.reliability.holding_proxy`) that, once a position is held, cuts every connection and refuses
new ones the moment an order's answer says it filled: that answer, and the fill's push on the
WebSocket, are lost with the link -- so there is always a fill to lose. Signals keep flowing on the
broker while the link is down (`tests.reliability.execution_support`); then it comes back. The stage
must keep running, reconcile at the reconnect (the order settled by its cloid, the fill recovered over
REST), send no cloid twice, and publish every fill and funding payment the venue recorded, the fill
whose report crossed the cut included.

Recovery time: from the link's return until the venue has an order sent after it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.broker import TansuBroker
from tests.helpers import eventually
from tests.reliability.execution_support import info, trading
from tests.reliability.holding_proxy import HoldingProxy
from tests.reliability.support import record

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def test_a_dropped_venue_link_under_run_execution_loses_and_repeats_nothing(
    tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    with trading(tansu_broker_fn, tmp_path, "link-drop-execution") as venue:
        proxy = HoldingProxy(int(venue.url.rsplit(":", 1)[1]))
        proxy.start()
        execution = venue.start_execution(url=f"http://127.0.0.1:{proxy.port}")
        try:
            eventually(venue.held, timeout=120, interval=0.1)
            proxy.cut_on_next_fill()
            assert proxy.cut_at_fill.wait(60), "no order filled"
            (crossed,) = proxy.crossed["action"]["orders"]
            venue.feed.wait_for(3)  # signals while the link is down
            sent_while_down = set(venue.journaled())
            proxy.start()
            restored = time.monotonic()
            venue.new_order(sent_while_down)
            recovery_s = time.monotonic() - restored
            venue.feed.wait_for(4)
            events, lost = venue.settled()
            fills = info(venue.url, {"type": "userFills", "user": venue.account})
            assert [fill for fill in fills if fill.get("cloid") == crossed["c"]], "the cut order has no fill"
            assert execution.poll() is None, "the stage stopped: " + (tmp_path / "run.log").read_text()[-3_000:]
            assert "user stream lost" in (tmp_path / "run.log").read_text(), "the stage never saw the link drop"
        finally:
            proxy.cut()
            execution.terminate()
            assert execution.wait(30) == 0, (tmp_path / "run.log").read_text()[-3_000:]
        _, duplicated = venue.orders_checked()
    record("venue link dropped under run execution", events, lost, 0, recovery_s, orders_duplicated=duplicated)
