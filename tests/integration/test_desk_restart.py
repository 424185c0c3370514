"""A trader killed with a spread open and restarted without a recovery snapshot takes the spread over.

The desks are built by the composition root's own factory (`app.runners.trading.desk_factory`) against the
venue over HTTP/WS. The first desk is abandoned right after its entry, as a SIGKILL leaves it (no shutdown,
no cancel, no final pull) before the store could have seen any of it: the take-over reads only what the
desk wrote ahead of its orders (the cloid and spread journals in the data directory).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import eth_account
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.runners.trading import desk_factory
from flows.execution import _DeskLogic
from operators.orders import CLOCK_SKEW_MS
from pairflow.clock import WALL_CLOCK
from pairflow.config import Settings
from pairflow.control import Control
from pairflow.events import Bar, Order, OrderIntent, Signal
from tests.integration.test_order_router import MARKS, Setup, positions, venue  # noqa: F401 - the venue fixture
from tests.support.durability import files_synced


def bar(coin: str, ts: int) -> Bar:
    px = MARKS[coin]
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def signal(ts: int, number: int, target: float) -> Signal:
    sizes = (0.5 * target, -0.0166 * target)
    return Signal(ts=ts, id=f"ETH/BTC:{number}", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5 * target,
                  target=target, reason="entry-long" if target else "exit", legs=("ETH", "BTC"), hedge_ratios=(1.0,),
                  leg_targets=sizes)


def desk_builder(venue: Setup, tmp_path: Path):
    """Fund a new account on the venue and give ETH and BTC fresh depth; return a build of its desk.

    The composition root's factory builds it; the build takes the settings (default ones when None) and the operator's controls: a restart may
    run with other limits, or with entries paused.
    """
    venue.book("ETH")
    venue.book("BTC")
    wallet = eth_account.Account.create()
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    return lambda settings=None, control=None: desk_factory(settings or Settings(), venue.url, bytes(wallet.key),
                                                            wallet.address, tmp_path / "trade", control=control)()


def test_a_restarted_desk_takes_over_the_open_spread_and_closes_exactly_it(venue: Setup, tmp_path: Path) -> None:
    build = desk_builder(venue, tmp_path)
    now = venue.engine.now_ms
    first = build()
    entry = signal(now, 1, 1.0)
    out = first.reconcile() + first.on_events([bar("ETH", now), bar("BTC", now), entry])
    assert positions(first.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
    assert any(isinstance(event, OrderIntent) for event in out)
    first.stream.close()  # killed: nothing else of it runs

    second = build()
    second.reconcile()
    assert second.blocked == ""
    assert {coin: book.szi for coin, book in second.ledger.spreads["ETH/BTC"].items()} == {
        "ETH": 0.5, "BTC": -0.0166}
    assert (second.net.net("ETH"), second.net.net("BTC"), second.acted) == (0.5, -0.0166, {"ETH/BTC": 1.0})
    sent = len(venue.requests)
    # The entry replayed after the restart trades nothing; the exit closes exactly what the spread holds.
    second.on_events([bar("ETH", now + 1), bar("BTC", now + 1), signal(now + 1, 2, 1.0)])
    assert not [p for p, b in venue.requests[sent:] if p == "/exchange" and b["action"]["type"] == "order"]
    second.on_events([signal(now + 2, 3, 0.0)])
    assert positions(second.router.executor) == {}
    closing = [o for p, b in venue.requests[sent:] if p == "/exchange" for o in b["action"].get("orders", [])]
    assert sorted((o["s"], o["r"]) for o in closing) == [("0.0166", True), ("0.5", True)]
    second.shutdown()


class Killed(BaseException):
    """The trader dies here: nothing after it runs, as after a SIGKILL (journals are already on disk)."""


def kill_at(desk, order: int, sent: bool) -> None:
    """Kill ``desk`` at its ``order``-th order (1-based): once the venue has it (``sent``), else just before.

    The cloid is journaled before either point, as the router writes it ahead of the send.
    """
    place, calls = desk.router.executor.place, []

    def placing(orders, expires_after=None):
        calls.append(orders)
        if len(calls) == order and not sent:
            raise Killed
        placed = place(orders, expires_after)
        if len(calls) == order:
            raise Killed
        return placed

    desk.router.executor.place = placing


def later(desk, ms: int = 60_000):
    """Return ``desk`` with its request clock ``ms`` ahead: restarted after the killed orders' expiry had passed.

    A process restart takes longer than ``[execution] order_lifetime_s`` (10 s); the restart's
    orders are stamped (nonce, expiry) on the same clock, which the venue accepts a minute ahead.
    """
    desk.router.executor.client._now_ms = lambda: WALL_CLOCK.now_ms() + ms
    return desk


def cloids_sent(venue: Setup, start: int = 0) -> list[str]:
    return [o["c"] for p, b in venue.requests[start:] if p == "/exchange" and b["action"]["type"] == "order"
            for o in b["action"]["orders"]]


def run_killed(venue: Setup, tmp_path: Path, targets: list[float], order: int, sent: bool, snapshot: bool,
               back: int = 0):
    """Trade ``targets`` (one signal each) on a desk killed at its ``order``-th order; restart it and replay.

    The restart is the execution stage's (`flows.execution._DeskLogic`): build (take-over from the journals),
    restore the recovery snapshot taken ``back`` signals before the killed one when ``snapshot``, reconcile;
    then every signal from that one on is replayed, as the source resumes from the snapshot's offsets.
    Return the restarted desk and the spread's target in effect at the end.
    """
    build = desk_builder(venue, tmp_path)
    now = venue.engine.now_ms
    first = build()
    first.reconcile()
    kill_at(first, order, sent)
    states, killed = {}, len(targets)
    for number, target in enumerate(targets, start=1):
        states[number] = first.snapshot()
        try:
            first.on_events([bar("ETH", now + number), bar("BTC", now + number), signal(now + number, number, target)])
        except Killed:
            killed = number
            break
    first.stream.close()
    replay_from = max(1, killed - back)
    second = _DeskLogic(lambda: later(build()), states[replay_from] if snapshot else None)
    replayed = [event for number in range(replay_from, len(targets) + 1)
                for event in (bar("ETH", now + number), bar("BTC", now + number),
                              signal(now + number, number, targets[number - 1]))]
    second.on_batch([replayed])
    return second.desk, targets[-1]


# Between the legs: once the first leg's order is on the venue, or once the second's cloid is journaled, unsent.
BETWEEN = pytest.mark.parametrize("second, sent", [(False, True), (True, False)],
                                  ids=["first-leg-sent", "second-leg-journaled"])
SNAPSHOT = pytest.mark.parametrize("snapshot", [False, True], ids=["journals-only", "with-snapshot"])


# The trade a kill cuts: the targets traded, the order its legs start at, what the venue and the spread's
# legs hold after the restart, and how many orders were sent in all.
TRADE = pytest.mark.parametrize(("targets", "legs_start", "held", "orders"),
                                [([1.0], 1, {"ETH": 0.5, "BTC": -0.0166}, 2), ([1.0, 0.0], 3, {}, 4)],
                                ids=["entry", "exit"])


@SNAPSHOT
@BETWEEN
@TRADE
def test_a_trade_killed_between_its_legs_sends_the_other_leg_once_and_its_spread_holds_the_legs(
    venue: Setup, tmp_path: Path, targets: list[float], legs_start: int, held: dict[str, float], orders: int,
    snapshot: bool, second: bool, sent: bool
) -> None:
    start = len(venue.requests)
    desk, _ = run_killed(venue, tmp_path, targets, order=legs_start + second, sent=sent, snapshot=snapshot)
    assert positions(desk.router.executor) == held
    # the spread holds the same legs (the restored snapshot kept the intents taken from the journal)
    assert {coin: book.szi for coin, book in desk.ledger.spreads["ETH/BTC"].items() if book.szi} == held
    cloids = cloids_sent(venue, start)
    assert len(cloids) == len(set(cloids)) == orders
    desk.shutdown()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(targets=st.lists(st.sampled_from([1.0, 0.0, -1.0]), min_size=1, max_size=5), order=st.integers(1, 8),
       sent=st.booleans(), snapshot=st.booleans(), back=st.integers(0, 4))
def test_any_kill_point_ends_at_the_last_target_with_no_cloid_sent_twice(
    venue: Setup, targets: list[float], order: int, sent: bool, snapshot: bool, back: int
) -> None:
    start = len(venue.requests)
    desk, target = run_killed(venue, Path(tempfile.mkdtemp()), targets, order=order, sent=sent, snapshot=snapshot,
                              back=back)
    expected = {"ETH": 0.5 * target, "BTC": -0.0166 * target} if target else {}
    assert positions(desk.router.executor) == pytest.approx(expected)
    cloids = cloids_sent(venue, start)
    assert len(cloids) == len(set(cloids))
    desk.shutdown()


def test_a_change_the_router_refused_whole_is_not_sent_by_a_restart(venue: Setup, tmp_path: Path) -> None:
    build = desk_builder(venue, tmp_path)
    now = venue.engine.now_ms
    first = build(Settings(execution={"max_order_notional": 1_500.0}))
    first.reconcile()
    first.on_events([bar("ETH", now), bar("BTC", now), signal(now, 1, 1.0)])  # 1,000 USD a leg: sent
    out = first.on_events([signal(now, 2, -1.0)])  # the flip sells 1 ETH, 2,000 USD: refused by risk
    assert [event.status for event in out if isinstance(event, Order)] == ["rejected", "rejected"]
    first.stream.close()
    # restarted with the limit raised, journals left as they were: the refused flip is not a change
    # cut between its legs (no leg's cloid journaled), so nothing goes out
    second = build()
    start = len(venue.requests)
    second.reconcile()
    second.on_events([bar("ETH", now + 1), bar("BTC", now + 1)])
    assert cloids_sent(venue, start) == []
    assert positions(second.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
    second.shutdown()


def entry_killed(venue: Setup, tmp_path: Path, order: int, sent: bool, settings: Settings | None = None):
    """Enter the spread on a desk killed at its ``order``-th order (see `kill_at`); return its build and the time."""
    build = desk_builder(venue, tmp_path)
    now = venue.engine.now_ms
    first = build(settings)
    first.reconcile()
    kill_at(first, order, sent)
    with pytest.raises(Killed):
        first.on_events([bar("ETH", now), bar("BTC", now), signal(now, 1, 1.0)])
    first.stream.close()
    return build, now


def test_an_entry_cut_between_its_legs_is_not_completed_while_entries_are_paused(venue: Setup, tmp_path: Path) -> None:
    build, now = entry_killed(venue, tmp_path, 1, sent=True)
    control = Control()
    control.pause_entries()
    second = later(build(control=control))
    start = len(venue.requests)
    second.reconcile()
    second.on_events([bar("ETH", now + 1), bar("BTC", now + 1), signal(now, 1, 1.0)])  # the entry replayed
    assert cloids_sent(venue, start) == []
    assert positions(second.router.executor) == {"ETH": 0.5}
    control.resume_entries()
    second.on_events([signal(now + 2, 2, 0.0)])  # its exit closes the leg that was sent
    assert positions(second.router.executor) == {}
    second.shutdown()


def test_a_restart_before_the_killed_orders_expiry_waits_for_it_before_sending_that_leg(
    venue: Setup, tmp_path: Path
) -> None:
    # the BTC leg's cloid journaled, then killed: it may still be on its way, until its expiry 0.5 s on
    build, now = entry_killed(venue, tmp_path, 2, sent=False, settings=Settings(execution={"order_lifetime_s": 0.5}))
    (journal,) = (tmp_path / "trade" / "execution").glob("cloids-*")
    expires = int(journal.read_text().splitlines()[1].split()[1])  # the BTC leg's line: cloid, expiry
    second = build()
    start = len(venue.requests)
    second.reconcile()
    second.on_events([bar("ETH", now + 1), bar("BTC", now + 1)])
    assert positions(second.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
    (resent,) = [b for p, b in venue.requests[start:] if p == "/exchange" and b["action"]["type"] == "order"]
    # signed (nonce: the request clock) only once the expiry and the second of skew had passed: a late copy is refused
    assert resent["nonce"] > expires + CLOCK_SKEW_MS
    second.shutdown()


@BETWEEN
def test_an_operator_flatten_killed_between_its_legs_is_run_again_on_restart(
    venue: Setup, tmp_path: Path, second: bool, sent: bool
) -> None:
    build, now, control, first = entered_under_control(venue, tmp_path)
    start = len(venue.requests)
    kill_at(first, 1 + second, sent)  # counted from here: the flatten's two orders
    control.request_flatten()
    with pytest.raises(Killed):
        first.on_events([bar("ETH", now + 1), bar("BTC", now + 1)])
    first.stream.close()
    assert positions(first.router.executor) != {}
    restarted = later(build(control=Control()))  # controls without a pause file: the journal alone re-runs the flatten
    restarted.reconcile()
    restarted.on_events([bar("ETH", now + 2), bar("BTC", now + 2)])
    assert positions(restarted.router.executor) == {}
    cloids = cloids_sent(venue, start)
    assert len(cloids) == len(set(cloids)) == 2
    assert restarted.acted == {"ETH/BTC": 0.0}  # the flatten's line set the spread's target to 0
    assert_flattened_in_the_ledger(restarted)
    restarted.shutdown()


def entered_under_control(venue: Setup, tmp_path: Path):
    """Return a desk's build, the time, the operator's controls and the desk built with them, holding ETH/BTC."""
    build = desk_builder(venue, tmp_path)
    now = venue.engine.now_ms
    control = Control()
    first = build(control=control)
    first.reconcile()
    first.on_events([bar("ETH", now), bar("BTC", now), signal(now, 1, 1.0)])
    assert positions(first.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
    return build, now, control, first


def test_a_restart_whose_clock_went_back_past_a_killed_orders_expiry_leaves_that_leg_instead_of_waiting(
    venue: Setup, tmp_path: Path
) -> None:
    build, now = entry_killed(venue, tmp_path, 2, sent=False)
    second = later(build(), -3_600_000)  # the host's clock stepped an hour back: the expiry looks an hour away
    start = len(venue.requests)
    second.reconcile()
    second.on_events([bar("ETH", now + 1), bar("BTC", now + 1)])  # returns at once, sends nothing
    assert cloids_sent(venue, start) == []
    assert positions(second.router.executor) == {"ETH": 0.5}
    second.shutdown()


def assert_flattened_in_the_ledger(desk) -> None:
    """Every spread's legs flat, no spread open, and the spreads' realised PnL and fees the coins' (all of it)."""
    assert {pair: {coin: book.szi for coin, book in legs.items()} for pair, legs in desk.ledger.spreads.items()} == {
        "ETH/BTC": {"ETH": 0.0, "BTC": 0.0}}
    assert (desk.net.net("ETH"), desk.net.net("BTC"), desk.opened_ms) == (0.0, 0.0, {})
    spread, coins = desk.ledger.spreads["ETH/BTC"].values(), desk.ledger.coins.values()
    assert sum(book.realized for book in spread) == pytest.approx(sum(book.realized for book in coins), abs=1e-9)
    assert sum(book.fees for book in spread) == pytest.approx(sum(book.fees for book in coins), abs=1e-9)
    assert sum(book.fees for book in coins) > 0


def test_a_flatten_closes_the_spreads_legs_in_the_pnl_ledger_and_a_restart_finds_them_flat(
    venue: Setup, tmp_path: Path
) -> None:
    build, now, control, first = entered_under_control(venue, tmp_path)
    control.request_flatten()
    first.on_events([bar("ETH", now + 1), bar("BTC", now + 1)])
    assert positions(first.router.executor) == {}
    assert_flattened_in_the_ledger(first)
    first.shutdown()

    restarted = later(build(control=Control()))  # its ledger rebuilt from the journals and the exchange's fills
    restarted.reconcile()
    restarted.on_events([bar("ETH", now + 2), bar("BTC", now + 2)])
    assert_flattened_in_the_ledger(restarted)
    assert restarted.acted == {"ETH/BTC": 0.0}
    restarted.shutdown()


def test_with_journal_fsync_each_change_and_each_cloid_is_on_the_disk_before_its_orders_are_sent(
    venue: Setup, tmp_path: Path
) -> None:
    """One setting syncs both journals, the spread change first: a power loss cannot keep a cloid without its change."""
    desk = desk_builder(venue, tmp_path)(Settings(execution={"journal_fsync": True}))
    now = venue.engine.now_ms
    desk.reconcile()
    synced: list[tuple[str, int]] = []  # (journal, cloids the venue had received by the time it was on the disk)

    def note(path: Path) -> None:
        if tmp_path / "trade" in path.parents:
            synced.append((path.name.split("-")[0], len(cloids_sent(venue))))

    with files_synced(note):
        desk.on_events([bar("ETH", now), bar("BTC", now), signal(now, 1, 1.0)])  # an entry
        desk.flatten("flattened by the test")  # the desk's own change: a flatten of every coin held
    assert positions(desk.router.executor) == {}
    assert synced == [("spreads", 0), ("cloids", 0), ("cloids", 1), ("spreads", 2), ("cloids", 2), ("cloids", 3)]
    desk.shutdown()
