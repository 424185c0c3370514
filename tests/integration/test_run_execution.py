"""``pairflow run execution``: signals from pf.signals traded on the venue over HTTP, its events published, stored once.

The desk's orders, fills, positions and PnL go to their topics only; the
store-writer then stores each of them once. The venue is served in-process
(the unchanged SDK path over HTTP), the key is in an encrypted keystore.
"""

from __future__ import annotations

from pathlib import Path

import eth_account
import msgspec
import pytest

from pairflow.events import TOPIC_OF, Alert, Fill, Order, Signal, encode
from pairflow.hyperliquid.keystore import import_key
from pairflow.pause_file import PAUSE_FILE, Pause, write_pause
from pairflow.storage import connect
from sinks.dead_letter import read_dead_letters
from pairflow.topics import TopicSpec, ensure_topics
from tests.broker import TansuBroker, consume_all
from tests.integration.ingest_support import chdb_settings, produce, start_pairflow
from tests.integration.test_desk_controls import mark_bar
from tests.integration.test_order_router import Setup, venue  # noqa: F401 - the venue fixture

pytestmark = pytest.mark.broker

PASS = "correct horse battery staple"


def funded_entry(venue: Setup, broker: TansuBroker, tmp_path: Path) -> tuple[Path, int, Signal]:
    """Fund a new account with its key in a keystore, create the input topics; return the keystore, the venue's
    time and an ETH/BTC entry signal."""
    venue.book("ETH")
    venue.book("BTC")
    wallet = eth_account.Account.create()
    with venue.engine.lock:
        venue.engine.fund(wallet.address, 100_000)
    import_key(tmp_path / "keys", bytes(wallet.key).hex(), PASS)
    (keystore,) = (tmp_path / "keys").glob("*.json")
    now = venue.engine.now_ms
    entry = Signal(ts=now + 1, id="ETH/BTC:1", pair="ETH/BTC", hedge_ratio=1.0, spread=0.0, zscore=-2.5, target=1.0,
                   reason="entry-long", legs=("ETH", "BTC"), hedge_ratios=(1.0,), leg_targets=(0.1, -0.01))
    ensure_topics(broker.admin(), [TopicSpec(name, 2) for name in ("md.bars", "pf.signals")])
    return keystore, now, entry


def test_run_execution_trades_topics_and_the_store_writer_stores_its_events_once(
    venue: Setup, tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    keystore, now, entry = funded_entry(venue, tansu_broker_fn, tmp_path)
    # Records the stage cannot use come first: garbage, a leg of 1e300 coins (it stopped the stage once), a bar
    # with a negative close. Each is one dead letter with its reason; the stage reads on and trades the entry.
    junk = [
        ("pf.signals", b"ETH/BTC", b"\xff not json"),
        ("pf.signals", b"ETH/BTC", encode(msgspec.structs.replace(entry, id="ETH/BTC:0", leg_targets=(1e300, -1.0)))),
        ("md.bars", b"ETH", encode(msgspec.structs.replace(mark_bar("ETH", now - 1), close=-5.0))),
    ]
    produce(tansu_broker_fn, junk + [("md.bars", coin.encode(), encode(mark_bar(coin, now))) for coin in ("ETH", "BTC")]
            + [("pf.signals", b"ETH/BTC", encode(entry))])

    common = ("--brokers", tansu_broker_fn.bootstrap_servers, "--until-end", "--dead-letter-dir", str(tmp_path / "dead"))
    trader = start_pairflow(tmp_path, "run", "execution", "--url", venue.url, "--keystore", str(keystore),
                            "--data-dir", str(tmp_path / "desk"), *common,
                            extra_env={"PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE": PASS})
    assert trader.wait(timeout=120) == 0, (tmp_path / "run.log").read_text()[-3_000:]
    assert not (tmp_path / "chdb").exists(), "execution opened the store"
    fills = [msgspec.json.decode(m.value(), type=Fill) for m in consume_all(tansu_broker_fn, TOPIC_OF[Fill], 2)]
    orders = [msgspec.json.decode(m.value(), type=Order) for m in consume_all(tansu_broker_fn, TOPIC_OF[Order], 2)]
    assert {fill.coin for fill in fills} == {"ETH", "BTC"}
    assert {order.coin for order in orders} == {"ETH", "BTC"}
    # Execution logs what it drops (one line each, with the reason); the store-writer keeps them as dead letters.
    rejected = [line for line in (tmp_path / "run.log").read_text().splitlines() if "malformed record" in line]
    assert len(rejected) == len(junk) and any("leg target of ETH" in line for line in rejected), rejected

    writer = start_pairflow(tmp_path, "run", "store-writer", *common)
    assert writer.wait(timeout=120) == 0, (tmp_path / "run.log").read_text()[-3_000:]
    with connect(chdb_settings(tmp_path)) as store:
        stored = {row[0]: int(row[1]) for row in store.query("SELECT id, count() FROM fills_v GROUP BY id")}
        assert stored == dict.fromkeys({fill.id for fill in fills}, 1)
        assert store.count("orders") == len({order.id for order in orders})
        assert store.count("positions") > 0
        assert store.query("SELECT count() FROM signals_v WHERE id = 'ETH/BTC:0'")[0][0] == 0
        assert store.query("SELECT min(close) FROM bars_1s_v")[0][0] > 0
    assert len(read_dead_letters(tmp_path / "dead")) == len(junk)


def test_run_execution_started_with_a_pause_file_trades_no_entry_and_says_why(
    venue: Setup, tansu_broker_fn: TansuBroker, tmp_path: Path
) -> None:
    """A kill or drawdown stop (or a `pairflow trade` on the same --data-dir) left the pause file: the stage
    starts paused with one line saying why, and refuses the entry."""
    keystore, now, entry = funded_entry(venue, tansu_broker_fn, tmp_path)
    produce(tansu_broker_fn, [("md.bars", coin.encode(), encode(mark_bar(coin, now))) for coin in ("ETH", "BTC")]
            + [("pf.signals", b"ETH/BTC", encode(entry))])
    (tmp_path / "desk").mkdir()
    write_pause(tmp_path / "desk" / PAUSE_FILE, Pause("daily_drawdown: day PnL -600.00 USDC reached -500.00",
                                                      since_ms=1_764_961_200_000))
    trader = start_pairflow(tmp_path, "run", "execution", "--url", venue.url, "--keystore", str(keystore),
                            "--data-dir", str(tmp_path / "desk"), "--brokers", tansu_broker_fn.bootstrap_servers,
                            "--until-end", extra_env={"PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE": PASS})
    log = tmp_path / "run.log"
    assert trader.wait(timeout=120) == 0, log.read_text()[-3_000:]
    assert "entries paused since 2025-12-05T19:00:00+00:00: daily_drawdown: day PnL" in log.read_text()
    alerts = [msgspec.json.decode(m.value(), type=Alert).message for m in consume_all(tansu_broker_fn, TOPIC_OF[Alert], 1)]
    assert alerts == ["ETH/BTC: entries_blocked: daily_drawdown: day PnL -600.00 USDC reached -500.00"]
    assert [p for p, b in venue.requests if p == "/exchange" and b["action"]["type"] == "order"] == []
