"""HTTP + WebSocket layer speaking the Hyperliquid API over a `venue.engine.Engine`.

`create_app` builds the ASGI app and `serve.BackgroundServer` runs it with uvicorn
in a thread.
"""

from .app import create_app
from .nonces import NonceTracker

__all__ = ["NonceTracker", "create_app"]
