"""Helpers for driving the venue's WebSocket with the plain ``websocket-client`` library."""

from __future__ import annotations

import struct

import websocket

__all__ = ["ABNORMAL_CLOSURE", "send_and_await_close"]

ABNORMAL_CLOSURE = 1006
"""Close code reported when the server reset the TCP connection instead of completing a close handshake."""


def send_and_await_close(connection: websocket.WebSocket, text: str) -> int | None:
    """Send ``text`` and read until the server ends the connection; return its close code.

    A server that refuses a frame sends a close frame and then drops the socket; depending on
    timing the client sees the close frame, a reset while still sending, or a reset while reading.
    All three mean the server closed the connection, so all three return a code
    (`ABNORMAL_CLOSURE` for a reset). Returns None when the connection is still open after the
    connection's own receive time-out.
    """
    try:
        connection.send(text)
        while True:
            opcode, frame = connection.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else ABNORMAL_CLOSURE
    except websocket.WebSocketTimeoutException:
        return None
    except (ConnectionError, websocket.WebSocketException):
        return ABNORMAL_CLOSURE
