"""Concurrent clients: parallel signed orders and a live WebSocket subscriber see one consistent engine."""

from __future__ import annotations

import threading

from hyperliquid.info import Info

from tests.helpers import eventually

ORDERS_PER_CLIENT = 15


def test_parallel_clients_and_a_subscriber_stay_consistent(venue):
    venue.seed_book(bid="1999", ask="2001", sz="50")
    wallets = [venue.wallet() for _ in range(4)]
    updates: list = []
    info = Info(venue.url)
    try:
        info.subscribe({"type": "orderUpdates", "user": wallets[0].address}, updates.append)
        failures: list = []

        def trade(wallet) -> None:
            exchange = venue.exchange(wallet)
            for index in range(ORDERS_PER_CLIENT):
                response = exchange.order("ETH", True, 0.01, float(1_500 + index), {"limit": {"tif": "Gtc"}})
                if response["status"] != "ok" or "resting" not in response["response"]["data"]["statuses"][0]:
                    failures.append(response)
            if exchange.market_open("ETH", True, 0.01)["status"] != "ok":
                failures.append("market_open")

        threads = [threading.Thread(target=trade, args=(wallet,)) for wallet in wallets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        plain = venue.info()
        for wallet in wallets:
            assert len(plain.open_orders(wallet.address)) == ORDERS_PER_CLIENT
            assert len(plain.user_fills(wallet.address)) == 1
        statuses = eventually(lambda: [u["status"] for frame in updates for u in frame["data"]]
                              if len(updates) >= ORDERS_PER_CLIENT + 1 else None)
        assert statuses.count("open") == ORDERS_PER_CLIENT and "filled" in statuses
    finally:
        info.disconnect_websocket()
