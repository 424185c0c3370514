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
import msgspec
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
from venue.engine import Limit, OrderRequest, Tif


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



def legs_held(desk) -> dict[str, dict[str, float]]:
    return {pair: {coin: leg.szi for coin, leg in legs.items()} for pair, legs in desk.ledger.spreads.items()}


def realized(desk) -> dict[str, float]:
    return {pair: sum(leg.realized for leg in legs.values()) for pair, legs in desk.ledger.spreads.items()}


SPREADS = (("ETH/BTC", ("ETH", "BTC"), 1.0, (0.5, -0.0166)), ("ETH/SOL", ("ETH", "SOL"), -1.0, (-0.5, 6.6)),
           ("BTC/SOL", ("BTC", "SOL"), 1.0, (0.0166, -6.6)))


def entered_both_ways(venue: Setup, tmp_path: Path, spreads):
    """Enter ``spreads`` (pair, legs, target, leg sizes) on a new desk under the operator's controls.

    Return the desk's build, the time, its controls, the desk and the entry signals.
    """
    build = desk_builder(venue, tmp_path)
    venue.book("SOL")
    now = venue.engine.now_ms
    control = Control()
    first = build(control=control)
    first.reconcile()
    entries = [Signal(ts=now, id=f"{pair}:1", pair=pair, hedge_ratio=1.0, spread=0.0, zscore=-2.5 * target,
                      target=target, reason="entry", legs=legs, hedge_ratios=(1.0,), leg_targets=sizes)
               for pair, legs, target, sizes in spreads]
    first.on_events([*(bar(coin, now) for coin in MARKS), *entries])
    return build, now, control, first, entries


def crossed_by_a_flatten(venue: Setup, tmp_path: Path):
    """Enter ETH/BTC long and ETH/SOL short (ETH nets to nothing), then flatten: BTC and SOL orders, ETH crossed.

    Return what `entered_both_ways` does.
    """
    build, now, control, first, entries = entered_both_ways(venue, tmp_path, SPREADS[:2])
    assert positions(first.router.executor) == {"BTC": -0.0166, "SOL": 6.6}
    start = len(venue.requests)
    control.request_flatten()
    first.on_events([bar(coin, now + 1) for coin in MARKS])
    assert positions(first.router.executor) == {}
    assert sorted(order["a"] for p, b in venue.requests[start:] if p == "/exchange" and b["action"]["type"] == "order"
                  for order in b["action"]["orders"]) == [0, 2]  # BTC and SOL: no ETH order
    assert legs_held(first) == {"ETH/BTC": {"ETH": 0.0, "BTC": 0.0}, "ETH/SOL": {"ETH": 0.0, "SOL": 0.0}}
    return build, now, control, first, entries


@SNAPSHOT
def test_a_flattens_cross_of_offsetting_legs_survives_a_restart_from_the_journals_alone(
    venue: Setup, tmp_path: Path, snapshot: bool
) -> None:
    """ETH/BTC long and ETH/SOL short net ETH to nothing: the flatten crosses their ETH legs in the ledger (no
    order, no fill). Restarted without a recovery snapshot, the desk finds them crossed in the spread journal:
    its ledger is flat like the venue, and a stop or exit of either spread later sends no ETH order. With
    the snapshot (which holds the cross already) the journal's cross changes nothing."""
    build, now, _, first, entries = crossed_by_a_flatten(venue, tmp_path)
    crossed = realized(first)
    state = first.snapshot() if snapshot else None
    first.stream.close()  # killed: the journals (and the recovery snapshot) are what is left

    start = len(venue.requests)
    restarted = _DeskLogic(lambda: later(build(Settings(execution={"time_stop_ms": 5_000}), control=Control())),
                           state).desk  # built, restored, reconciled
    assert legs_held(restarted) == {"ETH/BTC": {"ETH": 0.0, "BTC": 0.0}, "ETH/SOL": {"ETH": 0.0, "SOL": 0.0}}
    assert {coin: book.szi for coin, book in restarted.ledger.coins.items() if book.szi} == {}
    assert realized(restarted) == pytest.approx(crossed)
    assert (restarted.opened_ms, restarted.acted, restarted.blocked) == ({}, {"ETH/BTC": 0.0, "ETH/SOL": 0.0}, "")
    # past the time stop, then each spread's exit: nothing is held, so nothing goes out
    restarted.on_events([bar(coin, now + 10_000) for coin in MARKS])
    restarted.on_events([msgspec.structs.replace(entry, ts=now + 10_001, id=f"{entry.pair}:2", target=0.0,
                                                 reason="exit", leg_targets=(0.0, 0.0)) for entry in entries])
    assert cloids_sent(venue, start) == []
    assert positions(restarted.router.executor) == {}
    restarted.shutdown()


def test_a_restart_applies_the_cross_among_the_fills_where_it_was_made(venue: Setup, tmp_path: Path) -> None:
    """ETH/BTC enters again after the cross, its ETH bought 1 USD cheaper: restarted from the journals, the cross
    comes after the first entry's fills and before the new one's, so each spread realised what it did before
    the kill and ETH/BTC's exit sells the 0.5 ETH it holds (not the 1.0 an uncrossed leg would add up to)."""
    build, now, control, first, entries = crossed_by_a_flatten(venue, tmp_path)
    control.resume_entries()
    maker = eth_account.Account.create().address
    with venue.engine.lock:  # a later ms than the entries' fills, as any later trade's on the exchange
        venue.engine.advance(venue.engine.now_ms + 1)
        venue.engine.fund(maker, 1_000_000)
        venue.engine.place_orders(maker, [OrderRequest(1, False, "2001.0", "1", False, Limit(Tif.GTC))])
    first.on_events([bar(coin, now + 2) for coin in MARKS] + [msgspec.structs.replace(entries[0], ts=now + 2,
                                                                                      id="ETH/BTC:2")])
    assert positions(first.router.executor) == {"ETH": 0.5, "BTC": -0.0166}
    before = (legs_held(first), realized(first), first.ledger.spreads["ETH/BTC"]["ETH"].entry)
    assert before[2] == 2001.0
    first.stream.close()

    restarted = later(build(control=Control()))
    restarted.reconcile()
    assert (legs_held(restarted), realized(restarted), restarted.ledger.spreads["ETH/BTC"]["ETH"].entry) == (
        before[0], pytest.approx(before[1]), 2001.0)
    start = len(venue.requests)
    restarted.on_events([bar(coin, now + 3) for coin in MARKS] + [msgspec.structs.replace(
        entries[0], ts=now + 3, id="ETH/BTC:3", target=0.0, reason="exit", leg_targets=(0.0, 0.0))])
    assert len(cloids_sent(venue, start)) == 2
    assert positions(restarted.router.executor) == {}
    restarted.shutdown()


def test_a_flatten_with_every_leg_crossed_sends_nothing_and_a_restart_finds_every_spread_closed(
    venue: Setup, tmp_path: Path
) -> None:
    """ETH/BTC, ETH/SOL and BTC/SOL net every coin to nothing: the flatten has no order to send, so its journal
    line holds the cross alone; restarted from the journals, every leg is flat and every spread's target 0."""
    build, now, control, first, _ = entered_both_ways(venue, tmp_path, SPREADS)
    assert positions(first.router.executor) == {}
    start = len(venue.requests)
    control.request_flatten()
    first.on_events([bar(coin, now + 1) for coin in MARKS])
    assert cloids_sent(venue, start) == []
    flat = {pair: dict.fromkeys(legs, 0.0) for pair, legs, _, _ in SPREADS}
    assert legs_held(first) == flat
    crossed = realized(first)
    first.stream.close()

    restarted = later(build(Settings(execution={"time_stop_ms": 5_000}), control=Control()))
    restarted.reconcile()
    assert (legs_held(restarted), realized(restarted)) == (flat, pytest.approx(crossed))
    assert (restarted.opened_ms, restarted.acted) == ({}, dict.fromkeys(flat, 0.0))
    restarted.on_events([bar(coin, now + 10_000) for coin in MARKS])
    assert cloids_sent(venue, start) == []
    restarted.shutdown()
