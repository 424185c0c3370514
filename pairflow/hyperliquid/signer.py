"""Sign L1 actions (orders, cancels, scheduleCancel) and hand out nonces, one counter per signer.

The signature is byte-for-byte the SDK's ``sign_l1_action`` (same msgpack
action hash, same phantom agent), computed through `signing.l1_digest`
instead of the generic EIP-712 encoder, which costs more than the
secp256k1 signature itself -- it is on the tick-to-order path.

Hyperliquid keeps the 100 highest nonces per signer and refuses a repeat,
so two threads that both read the wall clock in the same millisecond would
collide. `NonceCounter` hands out ``max(now_ms, last + 1)`` under a lock, and
`nonce_counter` returns the one counter of a signer address, shared by every
router in the process.
"""

from __future__ import annotations

import threading
from typing import Any

import coincurve
from eth_keys import keys
from hyperliquid.utils import signing as sdk_signing

from pairflow.hyperliquid.signing import l1_digest

__all__ = ["L1Signer", "NonceCounter", "nonce_counter"]


class NonceCounter:
    """Strictly increasing millisecond nonces: ``max(now_ms, last + 1)``, atomic across threads.

    Examples
    --------
    >>> counter = NonceCounter()
    >>> counter.next(1000), counter.next(1000), counter.next(999), counter.next(5000)
    (1000, 1001, 1002, 5000)
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self, now_ms: int) -> int:
        """Return the next nonce for a request made at ``now_ms``."""
        with self._lock:
            self._last = max(now_ms, self._last + 1)
            return self._last


_COUNTERS: dict[str, NonceCounter] = {}
_COUNTERS_LOCK = threading.Lock()


def nonce_counter(signer_address: str) -> NonceCounter:
    """Return the process-wide counter of ``signer_address`` (created on first use)."""
    with _COUNTERS_LOCK:
        return _COUNTERS.setdefault(signer_address.lower(), NonceCounter())


class L1Signer:
    """A private key that signs L1 actions for one network (testnet flag as the SDK derives it from the URL).

    The key is held in memory only; `__repr__` shows the address, never the key.
    """

    def __init__(self, private_key: bytes, *, is_mainnet: bool = False) -> None:
        self._key = keys.PrivateKey(private_key)
        self._ecdsa = coincurve.PrivateKey(private_key)
        self.address = self._key.public_key.to_checksum_address()
        self.is_mainnet = is_mainnet

    def __repr__(self) -> str:
        return f"L1Signer({self.address}, mainnet={self.is_mainnet})"

    def sign(self, action: Any, nonce: int, vault_address: str | None = None,
             expires_after: int | None = None) -> dict[str, Any]:
        """Return the wire signature ``{"r", "s", "v"}`` of ``action`` (r and s unpadded hex, as the SDK sends)."""
        digest = l1_digest(sdk_signing.action_hash(action, vault_address, nonce, expires_after), self.is_mainnet)
        # libsecp256k1 directly: eth_keys' wrapper rebuilds the public key on every signature (a third of its cost)
        signature = self._ecdsa.sign_recoverable(digest, hasher=None)
        return {"r": hex(int.from_bytes(signature[:32], "big")), "s": hex(int.from_bytes(signature[32:64], "big")),
                "v": signature[64] + 27}
