"""HTTP + WebSocket layer speaking the Hyperliquid API over a `venue.engine.Engine`.

`create_app` builds the ASGI app, `serve.serve` runs it with uvicorn, and
`testing.run_venue` serves it in-process on a free port for tests.
"""

from .app import create_app
from .nonces import NonceTracker

__all__ = ["NonceTracker", "create_app"]
