"""``pairflow run execution`` twice over the same topics: the same order intents, whatever the fetches did.

What the desk decides from its topics -- each intent's id, size and limit
price -- must be a function of the topics' contents, as the strategy's signals
are (`tests.integration.test_strategy_determinism`). Fills come from the
venue's live market and may differ; here every leg fills at once on a deep
book, so the positions, and with them the sizes of the later intents, do not.
``md.bars`` holds the bars as ingest publishes a backlog: runs of one coin
after the other in one partition. Read in that order, a signal met one leg's
mark hundreds of bars away from its own time (or none), and which one
depended on where each fetch cut the batches the desk sorted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import eth_account
import msgspec
import pytest

from operators.orders import cloid_for
from pairflow.events import TOPIC_OF, Bar, OrderIntent, Signal, encode
from pairflow.hyperliquid.keystore import import_key
from pairflow.topics import TopicSpec, ensure_topics
from tests.broker import TansuBroker, consume_all
from tests.integration.ingest_support import produce, start_pairflow
from tests.integration.test_order_router import MARKS, Setup, marked_engine
from tests.support.venue import run_venue

pytestmark = pytest.mark.broker

PASS = "correct horse battery staple"
COINS = ("ETH", "BTC")
BARS, RUN, EVERY = 1_600, 400, 150  # bars per coin, bars per run of one coin, bars between signals


def _close(coin: str, index: int) -> float:
    """A price within 4 bps of the venue's mark (every IOC fills), different from one bar to the next."""
    return MARKS[coin] * (1 + 1e-4 * ((index * 7 + len(coin)) % 9 - 4))


def _bar(coin: str, start: int, index: int) -> Bar:
    px = _close(coin, index)
    ts = start + index * 1_000
    return Bar(ts=ts, id=f"{coin}@{ts}", coin=coin, interval="1s", open=px, high=px, low=px, close=px, volume=1.0,
               notional=px, vwap=px, trades=1, buy_volume=0.5, sell_volume=0.5)


def _signals(start: int) -> list[tuple[int, Signal]]:
    out = []
    for number, index in enumerate(range(EVERY // 2, BARS, EVERY)):
        target = 1.0 if number % 2 == 0 else -1.0
        out.append((index, Signal(ts=start + index * 1_000, id=f"ETH/BTC:{number}", pair="ETH/BTC", hedge_ratio=1.0,
                                  spread=0.0, zscore=-2.5 * target, target=target, reason="entry",
                                  legs=COINS, hedge_ratios=(1.0,), leg_targets=(0.1 * target, -0.01 * target))))
    return out


@contextmanager
def _fresh_venue(wallet: str) -> Iterator[Setup]:
    """A venue of its own with books 10 bps either side of the marks (50 coins deep), ``wallet`` funded."""
    clock, engine = marked_engine()
    with run_venue(engine, clock=clock, advance_interval=0.02, push_interval=0.05) as url:
        setup = Setup(engine, url)
        for coin in COINS:
            setup.book(coin)
        with engine.lock:
            engine.fund(wallet, 100_000)
        yield setup


def _intents(broker: TansuBroker, expected: int) -> list[OrderIntent]:
    return [msgspec.json.decode(m.value(), type=OrderIntent)
            for m in consume_all(broker, TOPIC_OF[OrderIntent], expected)]


def test_run_execution_twice_over_the_same_topics_emits_the_same_intents(
    tansu_broker_fn: TansuBroker, tmp_path: Path,
) -> None:
    wallet = eth_account.Account.create()
    import_key(tmp_path / "keys", bytes(wallet.key).hex(), PASS)
    (keystore,) = (tmp_path / "keys").glob("*.json")
    with _fresh_venue(wallet.address) as first:
        start = first.engine.now_ms - BARS * 1_000
        signals = _signals(start)
        # One partition each: pf.intents in the desk's order, md.bars in runs of one coin, as a backlog's ingest.
        ensure_topics(tansu_broker_fn.admin(), [TopicSpec(name, 1) for name in
                                                ("md.bars", "pf.signals", TOPIC_OF[OrderIntent])])
        bars = [("md.bars", coin.encode(), encode(_bar(coin, start, index)))
                for run in range(0, BARS, RUN) for coin in COINS for index in range(run, min(run + RUN, BARS))]
        produce(tansu_broker_fn, bars + [("pf.signals", b"ETH/BTC", encode(signal)) for _, signal in signals])

        def run_execution(venue: Setup, name: str) -> None:
            trader = start_pairflow(tmp_path / name, "run", "execution", "--url", venue.url, "--keystore",
                                    str(keystore), "--data-dir", str(tmp_path / name / "desk"), "--brokers",
                                    tansu_broker_fn.bootstrap_servers, "--until-end", "--dead-letter-dir",
                                    str(tmp_path / name / "dead"),
                                    extra_env={"PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE": PASS})
            assert trader.wait(timeout=120) == 0, (tmp_path / name / "run.log").read_text()[-3_000:]

        (tmp_path / "one").mkdir()
        run_execution(first, "one")
    once = _intents(tansu_broker_fn, 1)
    with _fresh_venue(wallet.address) as second:
        (tmp_path / "two").mkdir()
        run_execution(second, "two")
    both = _intents(tansu_broker_fn, len(once) + 1)

    def decided(intents: list[OrderIntent]) -> list[OrderIntent]:
        return [msgspec.structs.replace(intent, recv_ts=0) for intent in intents]

    assert decided(both[len(once):]) == decided(once)
    # And it is what the topics say: each signal sized from the previous target, at its own bar's close.
    held = dict.fromkeys(COINS, 0.0)
    expected = []
    for index, signal in signals:
        for coin, target in zip(COINS, signal.leg_targets):
            expected.append((cloid_for(signal.id, coin), signal.id, coin, target > held[coin],
                             pytest.approx(abs(target - held[coin])), _close(coin, index)))
            held[coin] = target
    assert [(i.id, i.signal_id, i.coin, i.is_buy, i.sz, i.limit_px) for i in once] == expected
