"""Size limits on what clients may send, checked before any parsing."""

from __future__ import annotations

__all__ = ["MAX_BODY_BYTES", "MAX_WS_MESSAGE_BYTES"]

MAX_BODY_BYTES = 1 << 20
"""Largest accepted HTTP body; a 1000-order batch is about 150 KB."""

MAX_WS_MESSAGE_BYTES = 64 * 1024
"""Largest accepted WebSocket client message (subscribe/unsubscribe/ping are tiny)."""
