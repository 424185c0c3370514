"""The write-ahead journals survive a kill mid-write: a torn last line is dropped, and the next record is whole."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pairflow.events import OrderIntent
from sinks.order_journal import OrderJournal
from sinks.spread_journal import SpreadJournal

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
