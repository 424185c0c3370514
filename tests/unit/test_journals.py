"""The write-ahead journals survive a kill mid-write: a torn last line is dropped, and the next record is whole."""

from __future__ import annotations

from pathlib import Path

import msgspec
import structlog.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.netting import SpreadTarget
from pairflow.events import OrderIntent
from sinks.order_journal import OrderJournal
from sinks.spread_journal import FLATTEN, Cross, SpreadChange, SpreadJournal

CLOIDS = st.lists(st.binary(min_size=16, max_size=16).map(lambda raw: "0x" + raw.hex()), min_size=1, max_size=5,
                  unique=True)


def intent(cloid: str, coin: str = "ETH", pair: str = "ETH/SOL") -> OrderIntent:
    return OrderIntent(ts=1, id=cloid, coin=coin, pair=pair, signal_id="s1", is_buy=True, sz=0.5, limit_px=2000.0)


@given(cloids=CLOIDS, cut=st.integers(min_value=1, max_value=33))
def test_a_cloid_recorded_after_a_torn_line_is_remembered(tmp_path_factory, cloids: list[str], cut: int) -> None:
    path = tmp_path_factory.mktemp("j") / "cloids"
    first = OrderJournal(path)
    for cloid in cloids[:-1]:
        first.record(cloid)
    first.close()
    with path.open("a", encoding="ascii") as file:
        file.write(cloids[-1][:cut])  # killed mid-write: this order was never sent
    second = OrderJournal(path)
    assert second.sent == set(cloids[:-1])
    second.record(cloids[-1])
    second.close()
    assert OrderJournal(path).sent == set(cloids)


@given(cloids=CLOIDS, cut=st.integers(min_value=1, max_value=40))
def test_a_spread_change_recorded_after_a_torn_line_is_read_back(tmp_path_factory, cloids: list[str],
                                                                   cut: int) -> None:
    path = tmp_path_factory.mktemp("j") / "spreads"
    first = SpreadJournal(path)
    first.record("ETH/SOL", 1.0, [intent(cloids[0])])
    first.close()
    with path.open("ab") as file:
        file.write(b'{"pair":"BTC/ETH","target":-1.0,"intents":[]}'[:cut])
    second = SpreadJournal(path)
    second.record("ETH/SOL", 0.0, [intent(cloid) for cloid in cloids[1:]])
    second.close()
    intents, targets = SpreadJournal(path).spreads(set(cloids))
    assert sorted(leg.id for leg in intents) == sorted(cloids)
    assert targets == {"ETH/SOL": 0.0 if cloids[1:] else 1.0}


def test_only_changes_whose_orders_may_have_gone_out_are_adopted(tmp_path: Path) -> None:
    journal = SpreadJournal(tmp_path / "spreads")
    sent, unsent = "0x" + "01" * 16, "0x" + "02" * 16
    journal.record("ETH/SOL", 1.0, [intent(sent)])
    journal.record("BTC/ETH", -1.0, [intent(unsent, pair="BTC/ETH")])  # killed before the router wrote its cloid
    intents, targets = journal.spreads({sent})
    assert [leg.id for leg in intents] == [sent]
    assert targets == {"ETH/SOL": 1.0}


@given(flatten_sent=st.booleans(), later_entry=st.booleans())
def test_a_flatten_with_a_leg_sent_sets_every_earlier_spread_to_zero_and_returns_its_sent_legs_for_the_ledger(
    tmp_path_factory, flatten_sent: bool, later_entry: bool
) -> None:
    journal = SpreadJournal(tmp_path_factory.mktemp("j") / "spreads")
    entries, flatten_leg, later = ("0x" + "01" * 16, "0x" + "02" * 16), "0x" + "03" * 16, "0x" + "04" * 16
    journal.record("ETH/SOL", 1.0, [intent(entries[0])])
    journal.record("BTC/ETH", -1.0, [intent(entries[1], pair="BTC/ETH")])
    journal.record(FLATTEN, 0.0, [intent(flatten_leg, pair=FLATTEN)], SpreadTarget(FLATTEN, "f", 1, ("ETH",), (-0.5,)))
    if later_entry:
        journal.record("ETH/SOL", -1.0, [intent(later)])
    sent = {*entries, later} | ({flatten_leg} if flatten_sent else set())
    intents, targets = journal.spreads(sent)
    assert {leg.id for leg in intents} == {*entries} | ({later} if later_entry else set()) | (
        {flatten_leg} if flatten_sent else set())
    assert FLATTEN not in targets  # no spread adopts the flatten's legs
    expected = {"ETH/SOL": 0.0, "BTC/ETH": 0.0} if flatten_sent else {"ETH/SOL": 1.0, "BTC/ETH": -1.0}
    assert targets == {**expected, **({"ETH/SOL": -1.0} if later_entry else {})}
    assert journal.last() is None if later_entry else journal.last().pair == FLATTEN  # the entry has no target legs


SIZES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(sizes=st.lists(st.tuples(SIZES, SIZES), min_size=1, max_size=4), cut=st.integers(min_value=0, max_value=40))
def test_the_last_whole_change_is_read_back_with_its_target_legs(tmp_path_factory, sizes: list[tuple[float, float]],
                                                                  cut: int) -> None:
    path = tmp_path_factory.mktemp("j") / "spreads"
    first = SpreadJournal(path)
    for number, legs in enumerate(sizes):
        spread = SpreadTarget("ETH/SOL", f"s{number}", number, ("ETH", "SOL"), legs)
        first.record("ETH/SOL", float(number), [intent(f"0x{number:032x}")], spread)
    first.close()
    with path.open("ab") as file:
        file.write(b'{"pair":"BTC/ETH","target":-1.0,"intents":[]}'[:cut])  # killed mid-write, or not
    last = SpreadJournal(path).last()
    assert last is not None and last.spread is not None
    assert (last.spread.signal_id, last.spread.sizes, last.target) == (f"s{len(sizes) - 1}", sizes[-1], len(sizes) - 1)


def test_a_change_journaled_without_its_target_legs_is_adopted_but_not_run_again(tmp_path: Path) -> None:
    path = tmp_path / "spreads"
    sent = "0x" + "01" * 16
    path.write_text('{"pair":"ETH/SOL","target":1.0,"intents":[' + msgspec.json.encode(intent(sent)).decode() + "]}\n")
    journal = SpreadJournal(path)
    assert journal.last() is None
    assert journal.spreads({sent})[1] == {"ETH/SOL": 1.0}


def test_a_forgotten_cloid_may_go_out_again_but_stays_in_the_file(tmp_path: Path) -> None:
    journal = OrderJournal(tmp_path / "cloids")
    cloid = "0x" + "01" * 16
    journal.record(cloid)
    journal.forget(cloid)
    assert cloid not in journal.sent
    journal.close()
    assert cloid in OrderJournal(tmp_path / "cloids").sent


@given(pair=st.sampled_from(["ETH/SOL", "BTC/ETH"]), coins=st.lists(st.sampled_from(["ETH", "SOL", "BTC"]), max_size=3),
       sizes=st.lists(SIZES, max_size=3))
def test_a_last_line_with_mismatched_target_legs_is_not_run_again(tmp_path_factory, pair: str, coins: list[str],
                                                                   sizes: list[float]) -> None:
    path = tmp_path_factory.mktemp("j") / "spreads"
    spread = {"pair": "ETH/SOL", "signal_id": "s1", "ts": 1, "coins": coins, "sizes": sizes}
    path.write_bytes(msgspec.json.encode({"pair": pair, "target": 1.0, "intents": [], "spread": spread}) + b"\n")
    last = SpreadJournal(path).last()
    whole = pair == "ETH/SOL" and len(coins) == len(sizes) > 0
    assert (last is not None) == whole


@given(cloids=CLOIDS, expiries=st.lists(st.none() | st.integers(0, 2**53), min_size=5, max_size=5),
       cut=st.integers(min_value=1, max_value=48))
def test_each_cloid_reads_back_with_its_expiry_and_a_torn_line_with_one_is_dropped(
    tmp_path_factory, cloids: list[str], expiries: list[int | None], cut: int
) -> None:
    path = tmp_path_factory.mktemp("j") / "cloids"
    first = OrderJournal(path)
    for cloid, expires in zip(cloids[:-1], expiries, strict=False):
        first.record(cloid, expires)
    first.close()
    with path.open("a", encoding="ascii") as file:
        file.write(f"{cloids[-1]} 1700000000000"[:cut])  # killed mid-write: never sent
    again = OrderJournal(path)
    kept = dict(zip(cloids[:-1], expiries, strict=False))
    assert again.sent == set(kept)
    assert again.expires == {cloid: expires for cloid, expires in kept.items() if expires is not None}


FINITE = st.floats(allow_nan=False, allow_infinity=False)
INTENTS = st.builds(OrderIntent, ts=st.integers(0, 2**53), recv_ts=st.integers(0, 2**53), id=st.text(max_size=40),
                    coin=st.text(max_size=8), pair=st.text(max_size=12), signal_id=st.text(max_size=20),
                    is_buy=st.booleans(), sz=FINITE, limit_px=FINITE, tif=st.sampled_from(["Gtc", "Ioc", "Alo"]),
                    reduce_only=st.booleans())


@st.composite
def changes(draw) -> SpreadChange:
    pair = draw(st.text(min_size=1, max_size=12).filter(lambda pair: pair != FLATTEN))
    coins = draw(st.lists(st.text(max_size=8), min_size=1, max_size=4))
    spread = SpreadTarget(pair, draw(st.text(max_size=20)), draw(st.integers(0, 2**53)), tuple(coins),
                          tuple(draw(st.lists(FINITE, min_size=len(coins), max_size=len(coins)))))
    return SpreadChange(pair, draw(FINITE), draw(st.lists(INTENTS, max_size=3)), spread)


@settings(max_examples=50, deadline=None)
@given(recorded=st.lists(changes(), min_size=1, max_size=4), fsync=st.booleans())
def test_every_spread_change_reads_back_unchanged_after_a_reopen(tmp_path_factory, recorded: list[SpreadChange],
                                                                 fsync: bool) -> None:
    path = tmp_path_factory.mktemp("j") / "spreads"
    for change in recorded:  # each by a restarted trader: the last change it reads back is the one just written
        journal = SpreadJournal(path, fsync=fsync)
        journal.record(change.pair, change.target, change.intents, change.spread)
        journal.close()
        assert SpreadJournal(path).last() == change
    intents, targets = SpreadJournal(path).spreads({intent.id for change in recorded for intent in change.intents})
    by_id = {intent.id: intent for change in recorded for intent in change.intents}
    assert intents == list(by_id.values())  # a cloid recorded twice is its latest intent
    assert targets == {change.pair: change.target for change in recorded if change.intents}


@st.composite
def crosses(draw) -> Cross:
    """Any crossed legs (pairs and coins any text, sizes any finite), each coin with a mark."""
    legs = draw(st.dictionaries(st.text(max_size=12), st.dictionaries(st.text(max_size=8), FINITE, max_size=3),
                                max_size=3))
    coins = {coin for held in legs.values() for coin in held}
    marks = {coin: draw(FINITE) for coin in sorted(coins)} | draw(st.dictionaries(st.text(max_size=8), FINITE,
                                                                                max_size=2))
    return Cross(draw(st.text(max_size=30)), draw(st.integers(0, 2**53)), draw(st.integers(0, 2**53)), marks, legs)


CROSSES = crosses()


@settings(max_examples=50, deadline=None)
@given(flattens=st.lists(st.tuples(CROSSES, st.lists(INTENTS, max_size=2, unique_by=lambda intent: intent.id),
                                   st.booleans()), min_size=1, max_size=4))
def test_a_flattens_cross_reads_back_unchanged_and_only_once_the_flatten_acted(
    tmp_path_factory, flattens: list[tuple[Cross, list[OrderIntent], bool]]
) -> None:
    """Any crossed legs round-trip through the file; a flatten acted when a leg was sent or it had none to send."""
    path = tmp_path_factory.mktemp("j") / "spreads"
    sent: set[str] = set()
    for cross, legs, leg_sent in flattens:
        journal = SpreadJournal(path)
        journal.record(FLATTEN, 0.0, legs, None, cross)
        journal.close()
        sent |= {leg.id for leg in legs[:1]} if leg_sent else set()
    expected = [cross for cross, legs, _ in flattens if not legs or any(leg.id in sent for leg in legs)]
    assert SpreadJournal(path).crosses(sent) == expected
    every = {leg.id for _, legs, _ in flattens for leg in legs}
    assert SpreadJournal(path).crosses(every) == [cross for cross, _, _ in flattens]


@given(cross=CROSSES, cut=st.integers(min_value=0, max_value=400))
def test_a_torn_last_cross_line_is_ignored_and_the_next_one_is_read_back(tmp_path_factory, cross: Cross,
                                                                          cut: int) -> None:
    path = tmp_path_factory.mktemp("j") / "spreads"
    first = SpreadJournal(path)
    whole = Cross("cross:flatten@1", 1, 0, {"ETH": 2000.0}, {"ETH/BTC": {"ETH": 0.5}, "ETH/SOL": {"ETH": -0.5}})
    first.record(FLATTEN, 0.0, [], None, whole)
    first.close()
    line = msgspec.json.encode(SpreadChange(FLATTEN, 0.0, [], None, cross))
    with path.open("ab") as file:
        file.write(line[:min(cut, len(line) - 1)])  # killed mid-write: never its newline
    second = SpreadJournal(path)
    assert second.crosses(set()) == [whole]
    second.record(FLATTEN, 0.0, [], None, cross)
    second.close()
    assert SpreadJournal(path).crosses(set()) == [whole, cross]


def test_a_journal_written_before_crosses_were_journaled_loads_with_none(tmp_path: Path) -> None:
    path = tmp_path / "spreads"
    sent = "0x" + "01" * 16
    leg = msgspec.json.encode(intent(sent, pair=FLATTEN)).decode()
    path.write_text('{"pair":"*","target":0.0,"intents":[' + leg + '],"spread":{"pair":"*","signal_id":"f","ts":1,'
                    '"coins":["ETH"],"sizes":[-0.5]}}\n')
    journal = SpreadJournal(path)
    assert journal.crosses({sent}) == [] and journal.last().cross is None
    assert journal.spreads({sent}) == ([intent(sent, pair=FLATTEN)], {})


def test_a_cross_without_a_mark_for_a_leg_is_left_out_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "spreads"
    journal = SpreadJournal(path)
    journal.record(FLATTEN, 0.0, [], None, Cross("cross:a", 1, 0, {"ETH": 2000.0}, {"ETH/SOL": {"ETH": 0.5, "SOL": 1.0}}))
    whole = Cross("cross:b", 2, 0, {"ETH": 2000.0}, {"ETH/BTC": {"ETH": 0.5}})
    journal.record(FLATTEN, 0.0, [], None, whole)
    journal.close()
    with structlog.testing.capture_logs() as logs:
        assert SpreadJournal(path).crosses(set()) == [whole]
    assert [log["event"] for log in logs] == ["spread journal's cross not applied: no mark for its legs in SOL"]
