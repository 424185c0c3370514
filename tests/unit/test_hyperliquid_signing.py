"""Signer recovery agrees with the SDK's signing for every action shape the SDK sends."""

from __future__ import annotations

import json

import eth_account
import pytest
from eth_account.messages import encode_typed_data
from eth_keys import KeyAPI
from eth_keys.backends import CoinCurveECCBackend
from hypothesis import given, settings
from hypothesis import strategies as st
from hyperliquid.utils import signing as sdk_signing
from hyperliquid.utils.signing import (
    USD_CLASS_TRANSFER_SIGN_TYPES,
    sign_agent,
    sign_l1_action,
    sign_usd_class_transfer_action,
    sign_usd_transfer_action,
)

from pairflow.hyperliquid.signing import l1_digest, parse_signature, recover_l1_signer, recover_user_signer

WALLET = eth_account.Account.from_key("0x" + "11" * 32)
ORDER = {"type": "order", "orders": [{"a": 1, "b": True, "p": "1100", "s": "0.2", "r": False,
                                      "t": {"limit": {"tif": "Gtc"}}, "c": "0x00000000000000000000000000000007"}],
         "grouping": "na"}


def over_the_wire(value):
    """Return what a server sees after JSON serialisation (key order preserved)."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("action", [
    ORDER,
    {"type": "cancel", "cancels": [{"a": 1, "o": 123}]},
    {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": "0x00000000000000000000000000000007"}]},
    {"type": "scheduleCancel", "time": 1_800_000_000_000},
    {"type": "updateIsolatedMargin", "asset": 1, "isBuy": True, "ntli": -1_000_000},
    {"type": "noop"},
])
@pytest.mark.parametrize("vault", [None, "0x" + "ab" * 20])
@pytest.mark.parametrize("expires_after", [None, 1_800_000_000_999])
def test_l1_recovery_matches_sdk_signature(action, vault, expires_after):
    signature = sign_l1_action(WALLET, action, vault, 1_700_000_000_000, expires_after, False)
    recovered = recover_l1_signer(over_the_wire(action), over_the_wire(signature), vault, 1_700_000_000_000,
                                  expires_after)
    assert recovered == WALLET.address.lower()


def test_l1_recovery_depends_on_network_and_key_order():
    signature = sign_l1_action(WALLET, ORDER, None, 5, None, False)
    assert recover_l1_signer(ORDER, signature, None, 5, None, is_mainnet=True) != WALLET.address.lower()
    reordered = dict(reversed(list(ORDER.items())))
    assert recover_l1_signer(reordered, signature, None, 5, None) != WALLET.address.lower()
    mainnet = sign_l1_action(WALLET, ORDER, None, 5, None, True)
    assert recover_l1_signer(ORDER, mainnet, None, 5, None, is_mainnet=True) == WALLET.address.lower()


def test_tampered_price_recovers_another_address():
    signature = sign_l1_action(WALLET, ORDER, None, 9, None, False)
    tampered = over_the_wire(ORDER)
    tampered["orders"][0]["p"] = "1100.0"
    recovered = recover_l1_signer(tampered, signature, None, 9, None)
    assert recovered is not None and recovered != WALLET.address.lower()


def test_unpadded_r_and_s_parse_as_integers():
    assert parse_signature({"r": "0x1", "s": "0xabc", "v": 27}) == (27, 1, 0xABC)


@pytest.mark.parametrize("signature", [
    {"r": "0x1", "s": "0x2", "v": 29},
    {"r": "0x0", "s": "0x2", "v": 27},
    {"r": "zz", "s": "0x2", "v": 27},
    {"r": "0x" + "f" * 64, "s": "0x2", "v": 27},
    {"r": "0x1", "s": "0x2", "v": True},
    {"r": 1, "s": "0x2", "v": 27},
    {"s": "0x2", "v": 27},
    "nonsense",
])
def test_malformed_signatures_are_unrecoverable(signature):
    assert parse_signature(signature) is None
    assert recover_l1_signer(ORDER, signature, None, 1, None) is None


def test_usd_class_transfer_recovers_user():
    action = {"type": "usdClassTransfer", "amount": "1.23", "toPerp": True, "nonce": 77}
    signature = sign_usd_class_transfer_action(WALLET, action, False)
    assert recover_user_signer(over_the_wire(action), signature) == WALLET.address.lower()
    assert action["hyperliquidChain"] == "Testnet"
    assert USD_CLASS_TRANSFER_SIGN_TYPES[0]["name"] == "hyperliquidChain"


def test_usd_send_recovers_user():
    action = {"destination": "0x" + "cd" * 20, "amount": "1", "time": 78, "type": "usdSend"}
    signature = sign_usd_transfer_action(WALLET, action, False)
    assert recover_user_signer(over_the_wire(action), signature) == WALLET.address.lower()


@pytest.mark.parametrize("name", [None, "persist"])
def test_approve_agent_recovers_user_with_and_without_name(name):
    action = {"type": "approveAgent", "agentAddress": eth_account.Account.create().address,
              "agentName": name or "", "nonce": 79}
    signature = sign_agent(WALLET, action, False)
    if name is None:
        del action["agentName"]  # what the SDK does before posting
    assert recover_user_signer(over_the_wire(action), signature) == WALLET.address.lower()


def test_user_signed_recovery_refuses_unknown_or_incomplete_actions():
    signature = {"r": "0x1", "s": "0x2", "v": 27}
    assert recover_user_signer({"type": "order"}, signature) is None
    assert recover_user_signer({"type": "usdSend", "signatureChainId": "0x66eee"}, signature) is None


def test_signing_and_recovery_run_on_the_libsecp256k1_backend():
    """coincurve is a dependency so eth-keys signs and recovers in C (about 15x faster than pure Python)."""
    assert isinstance(KeyAPI().backend, CoinCurveECCBackend)
    signature = sign_l1_action(WALLET, ORDER, None, 7, None, False)
    assert recover_l1_signer(over_the_wire(ORDER), signature, None, 7, None) == WALLET.address.lower()


@settings(max_examples=50, deadline=None)
@given(connection_id=st.binary(min_size=32, max_size=32), is_mainnet=st.booleans())
def test_l1_digest_is_the_eip712_hash_of_the_sdk_payload(connection_id, is_mainnet):
    payload = sdk_signing.l1_payload(sdk_signing.construct_phantom_agent(connection_id, is_mainnet))
    signed = WALLET.sign_message(encode_typed_data(full_message=payload))
    assert l1_digest(connection_id, is_mainnet) == signed.message_hash
