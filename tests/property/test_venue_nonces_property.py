"""Property: the nonce tracker accepts exactly what a brute-force model of the rules accepts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from venue.server.nonces import MAX_AGE_MS, MAX_LEAD_MS, NonceError, NonceTracker

NOW = 1_800_000_000_000


@given(st.lists(st.integers(min_value=NOW - MAX_AGE_MS - 5, max_value=NOW + MAX_LEAD_MS + 5)
                | st.integers(min_value=NOW - 30, max_value=NOW + 30), max_size=60))
def test_tracker_matches_model(nonces):
    tracker = NonceTracker(kept_per_signer=8)
    accepted: list[int] = []
    for nonce in nonces:
        kept = sorted(accepted)[-8:]
        expected = (nonce not in kept and NOW - MAX_AGE_MS < nonce < NOW + MAX_LEAD_MS
                    and (len(kept) < 8 or nonce > kept[0]))
        try:
            tracker.use("0xsigner", nonce, NOW)
            ok = True
        except NonceError:
            ok = False
        assert ok == expected
        if ok:
            accepted.append(nonce)
    assert tracker.kept("0xsigner") == sorted(accepted)[-8:]
