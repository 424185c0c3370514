"""``/ws``: Hyperliquid WebSocket subscriptions fed by engine events.

One job per module: `admission` (per-IP connection caps), `connection` (one
socket's outgoing queue and message rate), `subscriptions` (routing keys and
who holds them), `frames` (frames built from engine queries), `router` (engine
events and periodic pushes to subscribers) and `hub` (the session: messages,
subscribe, unsubscribe, post).
"""

from .admission import WsAdmission
from .hub import IDLE_TIMEOUT_S, Hub
from .subscriptions import MAX_SUBSCRIPTIONS

__all__ = ["IDLE_TIMEOUT_S", "MAX_SUBSCRIPTIONS", "Hub", "WsAdmission"]
