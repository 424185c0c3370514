"""TC-20..TC-25: signatures, nonces, agents, expiresAfter and scheduled cancels over real HTTP."""

from __future__ import annotations

import eth_account
from hyperliquid.api import API
from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

from tests.conformance.conftest import fixture
from tests.helpers import eventually
from tests.support.venue import run_venue
from venue.server.nonces import MAX_AGE_MS, MAX_LEAD_MS

ORDER = {"type": "order", "orders": [{"a": 1, "b": True, "p": "1500", "s": "0.1", "r": False,
                                      "t": {"limit": {"tif": "Gtc"}}}], "grouping": "na"}


def signed(wallet, action, nonce, vault=None, expires_after=None) -> dict:
    """Return the exact body the SDK would post for an L1 action."""
    signature = sign_l1_action(wallet, action, vault, nonce, expires_after, False)
    return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": vault,
            "expiresAfter": expires_after}


def test_tc20_unknown_key_is_named_in_the_error(venue):
    stranger = eth_account.Account.create()
    response = venue.exchange(stranger).order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}})
    assert response == {"status": "err", "response": f"User or API Wallet {stranger.address.lower()} does not exist."}
    recorded = fixture("http/http_exchange_errors_2026.json")["unknown_user"]
    assert recorded["response"].startswith("User or API Wallet 0x")


def test_tc21_tampered_payload_recovers_another_address_and_changes_nothing(venue):
    wallet = venue.wallet()
    body = signed(wallet, ORDER, get_timestamp_ms())
    body["action"]["orders"][0]["p"] = "1501"
    response = API(venue.url).post("/exchange", body)
    assert response["status"] == "err"
    assert response["response"].startswith("User or API Wallet 0x")
    assert wallet.address.lower() not in response["response"]
    assert venue.info().open_orders(wallet.address) == []


def test_tc21_unrecoverable_signature(venue):
    wallet = venue.wallet()
    body = signed(wallet, ORDER, get_timestamp_ms())
    body["signature"]["r"] = "0x0"
    assert API(venue.url).post("/exchange", body) == fixture("http/http_exchange_errors_2026.json")["bad_signature"]


def test_tc22_duplicate_too_low_and_too_high_nonces(venue):
    wallet = venue.wallet()
    api = API(venue.url)
    now = get_timestamp_ms()
    body = signed(wallet, {"type": "noop"}, now)
    assert api.post("/exchange", body) == {"status": "ok", "response": {"type": "default"}}
    assert api.post("/exchange", body) == {"status": "err", "response": f"Invalid nonce: duplicate nonce {now}"}
    for offset in range(1, 101):
        assert api.post("/exchange", signed(wallet, {"type": "noop"}, now + offset))["status"] == "ok"
    kept_duplicate = api.post("/exchange", signed(wallet, {"type": "noop"}, now + 1))["response"]
    assert kept_duplicate == f"Invalid nonce: duplicate nonce {now + 1}"
    dropped = api.post("/exchange", signed(wallet, {"type": "noop"}, now))["response"]
    assert dropped == f"Invalid nonce: nonce too low {now} < {now + 1}"
    below = api.post("/exchange", signed(wallet, {"type": "noop"}, now - 5))["response"]
    assert below == f"Invalid nonce: nonce too low {now - 5} < {now + 1}"
    stale = api.post("/exchange", signed(wallet, {"type": "noop"}, now - MAX_AGE_MS - 10))["response"]
    assert stale.startswith(f"Invalid nonce: nonce too low {now - MAX_AGE_MS - 10} < ")
    ahead = api.post("/exchange", signed(wallet, {"type": "noop"}, now + MAX_LEAD_MS + 60_000))["response"]
    assert ahead.startswith(f"Invalid nonce: nonce too high {now + MAX_LEAD_MS + 60_000} > ")


def test_tc23_agents_trade_for_their_master_but_cannot_transfer(venue):
    master = venue.wallet()
    exchange = venue.exchange(master)
    info = venue.info()
    response, agent_key = exchange.approve_agent()
    assert response == {"status": "ok", "response": {"type": "default"}}
    agent = eth_account.Account.from_key(agent_key)
    as_agent = venue.exchange(agent, account_address=master.address)
    (status,) = as_agent.order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}})["response"]["data"]["statuses"]
    oid = status["resting"]["oid"]
    assert info.open_orders(master.address)[0]["oid"] == oid
    assert info.open_orders(agent.address) == []
    assert as_agent.cancel("ETH", oid)["response"]["data"]["statuses"] == ["success"]
    assert as_agent.usd_class_transfer(1.0, False) == {
        "status": "err", "response": f"Must deposit before performing actions. User: {agent.address.lower()}"}
    assert info.user_role(agent.address) == {"role": "agent", "data": {"user": master.address.lower()}}
    _, second_key = exchange.approve_agent()
    revoked = as_agent.order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}})
    assert revoked == {"status": "err", "response": f"User or API Wallet {agent.address.lower()} does not exist."}
    named, named_key = exchange.approve_agent("persist")
    assert named["status"] == "ok"
    (extra,) = info.extra_agents(master.address)
    assert extra["name"] == "persist"
    assert extra["address"] == eth_account.Account.from_key(named_key).address.lower()
    assert sorted(extra) == sorted(fixture("http/http_extraAgents_2025.json")[0])


def test_tc24_expires_after(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    exchange.set_expires_after(get_timestamp_ms() - 1_000)
    assert exchange.order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}}) == {
        "status": "err", "response": "Action already expired"}
    assert venue.info().open_orders(wallet.address) == []
    exchange.set_expires_after(get_timestamp_ms() + 60_000)
    assert exchange.order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}})["status"] == "ok"
    exchange.set_expires_after(get_timestamp_ms() + 60_000)
    assert exchange.usd_class_transfer(1.0, False)["status"] == "err"


def test_tc25_schedule_cancel(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    info = venue.info()
    (status,) = exchange.order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}})["response"]["data"]["statuses"]
    oid = status["resting"]["oid"]
    assert exchange.schedule_cancel(venue.clock() + 1_000)["status"] == "err"
    assert exchange.schedule_cancel(venue.clock() + 10_000) == {"status": "ok", "response": {"type": "default"}}
    venue.clock.step(11_000)
    eventually(lambda: info.open_orders(wallet.address) == [])
    assert info.query_order_by_oid(wallet.address, oid)["order"]["status"] == "scheduledCancel"
    exchange.order("ETH", True, 0.1, 1500.0, {"limit": {"tif": "Gtc"}})
    assert exchange.schedule_cancel(venue.clock() + 10_000)["status"] == "ok"
    assert exchange.schedule_cancel(None)["status"] == "ok"
    venue.clock.step(11_000)
    target = venue.clock()
    eventually(lambda: venue.engine.now_ms >= target)
    assert info.open_orders(wallet.address) != []


def test_mainnet_signatures_are_refused_unless_the_fallback_is_enabled(venue):
    wallet = venue.wallet()
    nonce = get_timestamp_ms()
    action = {"type": "noop"}
    body = {"action": action, "nonce": nonce, "signature": sign_l1_action(wallet, action, None, nonce, None, True),
            "vaultAddress": None, "expiresAfter": None}
    refused = API(venue.url).post("/exchange", body)
    assert refused["status"] == "err" and wallet.address.lower() not in refused["response"]
    with run_venue(venue.engine, clock=venue.clock, accept_mainnet_signatures=True) as url:
        assert API(url).post("/exchange", body) == {"status": "ok", "response": {"type": "default"}}


def test_address_budget_is_enforced_after_ten_thousand_requests(venue):
    wallet = venue.wallet()
    exchange = venue.exchange(wallet)
    tiny = {"coin": "ETH", "is_buy": True, "sz": 0.001, "limit_px": 1500.0, "order_type": {"limit": {"tif": "Gtc"}},
            "reduce_only": False}
    for _ in range(10):
        assert exchange.bulk_orders([tiny] * 1000)["status"] == "ok"
    assert exchange.bulk_orders([tiny])["status"] == "ok"  # one action per 10 s is still allowed
    refused = exchange.bulk_orders([tiny])
    assert refused["status"] == "err"
    assert refused["response"].startswith("Too many cumulative requests sent (10002 > 10000)")
    assert exchange.cancel("ETH", 1)["status"] == "ok"  # cancels have a larger budget
    limits = venue.info().user_rate_limit(wallet.address)
    assert limits["nRequestsUsed"] == 10_002 and limits["nRequestsCap"] == 10_000
