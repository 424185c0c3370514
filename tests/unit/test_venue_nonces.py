"""Nonce rules: unused, above the smallest of the 100 kept, inside (T - 2 days, T + 1 day)."""

from __future__ import annotations

import pickle

import pytest

from venue.server.nonces import MAX_AGE_MS, MAX_LEAD_MS, NonceError, NonceTracker

NOW = 1_800_000_000_000
SIGNER = "0x" + "ab" * 20


def test_duplicate_nonce_is_refused_with_the_exchange_string():
    tracker = NonceTracker()
    tracker.use(SIGNER, NOW, NOW)
    with pytest.raises(NonceError, match=f"^Invalid nonce: duplicate nonce {NOW}$"):
        tracker.use(SIGNER.upper().replace("0X", "0x"), NOW, NOW)


def test_other_signers_have_their_own_nonces():
    tracker = NonceTracker()
    other = "0x" + "cd" * 20
    tracker.use(SIGNER, NOW, NOW)
    tracker.use(other, NOW, NOW)
    tracker.use(other, NOW + 1, NOW)
    assert tracker.kept(SIGNER) == [NOW]
    assert tracker.kept(other) == [NOW, NOW + 1]
    with pytest.raises(NonceError, match="duplicate"):
        tracker.use(other, NOW + 1, NOW)
    tracker.use(SIGNER, NOW + 1, NOW)


def test_window_bounds():
    tracker = NonceTracker()
    with pytest.raises(NonceError, match="^Invalid nonce: nonce too low "):
        tracker.use(SIGNER, NOW - MAX_AGE_MS, NOW)
    with pytest.raises(NonceError, match=f"^Invalid nonce: nonce too high {NOW + MAX_LEAD_MS} > "):
        tracker.use(SIGNER, NOW + MAX_LEAD_MS, NOW)
    tracker.use(SIGNER, NOW - MAX_AGE_MS + 1, NOW)
    tracker.use(SIGNER, NOW + MAX_LEAD_MS - 1, NOW)


def test_only_the_highest_hundred_are_kept_and_lower_nonces_are_refused():
    tracker = NonceTracker()
    for i in range(101):
        tracker.use(SIGNER, NOW + i, NOW)
    kept = tracker.kept(SIGNER)
    assert kept == list(range(NOW + 1, NOW + 101))
    with pytest.raises(NonceError, match=f"^Invalid nonce: nonce too low {NOW} < {NOW + 1}$"):
        tracker.use(SIGNER, NOW, NOW)
    tracker.use(SIGNER, NOW + 500, NOW)
    assert tracker.kept(SIGNER)[0] == NOW + 2


def test_refused_nonce_records_nothing():
    tracker = NonceTracker()
    with pytest.raises(NonceError):
        tracker.use(SIGNER, NOW + MAX_LEAD_MS, NOW)
    assert tracker.kept(SIGNER) == []


def test_state_survives_pickling():
    tracker = NonceTracker()
    tracker.use(SIGNER, NOW, NOW)
    restored = pickle.loads(pickle.dumps(tracker))
    with pytest.raises(NonceError, match="duplicate"):
        restored.use(SIGNER, NOW, NOW)
    restored.use(SIGNER, NOW + 1, NOW)
