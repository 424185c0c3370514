"""A TCP proxy to the venue that holds an order in flight, or cuts the link just as an order fills.

`HoldingProxy.hold_next_order` models a request held up in the network: the sender gets no answer,
and the request reaches the exchange whenever the test releases it -- after the sender was killed
and restarted, say. `HoldingProxy.cut_on_next_fill` models a link lost mid-fill: the next order that
fills reaches the venue, but neither its answer nor anything else the venue sends meanwhile (the
fill's WebSocket push included) gets back before every connection is cut. It reads the HTTP
requests crossing it (bodies with Content-Length, as httpx sends JSON) so a test can also see what
was asked; a connection upgraded to a WebSocket is carried through untouched.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from tests.integration.venue_support import TcpProxy

__all__ = ["HoldingProxy"]


def _split_request(buffer: bytes) -> tuple[bytes, bytes] | None:
    """Return (one whole HTTP request or response, the bytes after it), or None while it is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in buffer[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    whole = end + 4 + length
    return (buffer[:whole], buffer[whole:]) if len(buffer) >= whole else None


def _shut_down(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _body(request: bytes) -> Any:
    raw = request[request.find(b"\r\n\r\n") + 4:]
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class HoldingProxy(TcpProxy):
    """`TcpProxy` that, once `hold_next_order` is called, keeps the next ``order`` action from the venue.

    ``seen`` lists the JSON body of every request forwarded; ``held`` is the body kept back, set with
    ``holding`` when it arrives; `release` sends it to the venue on a connection of its own.
    """

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.seen: list[Any] = []
        self.held: Any = None
        self.holding = threading.Event()
        self.crossed: Any = None
        self.cut_at_fill = threading.Event()
        self._armed = False
        self._held_raw = b""
        self._watching = False
        self._in_flight: socket.socket | None = None
        self._parked: list[tuple[socket.socket, bytes]] = []
        self._gate = threading.Lock()

    @classmethod
    def to(cls, url: str) -> HoldingProxy:
        """Return a started proxy to the venue at ``url``, holding the first order request that crosses it."""
        proxy = cls(int(url.rsplit(":", 1)[1]))
        proxy.start()
        proxy.hold_next_order()
        return proxy

    def cut_on_next_fill(self) -> None:
        """Cut the link once an order fills: its answer, and all the venue sent since it left, are lost."""
        self._watching = True

    def hold_next_order(self) -> None:
        """Keep back the next order request that crosses the proxy."""
        self._armed = True

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        buffer = b""
        try:
            while data := client.recv(65536):
                buffer += data
                while (split := _split_request(buffer)) is not None:
                    request, buffer = split
                    if request.lower().find(b"upgrade: websocket") >= 0:
                        upstream.sendall(request + buffer)
                        return self._pump(client, upstream)
                    body = _body(request)
                    if self._armed and isinstance(body, dict) and body.get("action", {}).get("type") == "order":
                        self._armed = False
                        self._held_raw, self.held = request, body
                        self.holding.set()
                        continue  # in flight: the venue has not seen it, the sender gets no answer
                    self.seen.append(body)
                    if self._watching and isinstance(body, dict) and body.get("action", {}).get("type") == "order":
                        with self._gate:
                            self._in_flight, self.crossed = client, body
                    upstream.sendall(request)
        except OSError:
            pass
        _shut_down(client, upstream)

    def _backward(self, upstream: socket.socket, client: socket.socket) -> None:
        answer = b""
        try:
            while data := upstream.recv(65536):
                with self._gate:
                    if self._in_flight is None:
                        client.sendall(data)
                        continue
                    if client is not self._in_flight:
                        self._parked.append((client, data))  # until the order's answer says whether it filled
                        continue
                    answer += data
                    if (split := _split_request(answer)) is None:
                        continue
                    if b'"filled"' not in split[0]:
                        self._in_flight = None
                        for other, parked in [(client, answer), *self._parked]:
                            other.sendall(parked)
                        answer, self._parked = b"", []
                        continue
                    self._watching, self._in_flight, self._parked = False, None, []
                self.cut()
                self.cut_at_fill.set()
                return
        except OSError:
            pass
        _shut_down(client, upstream)

    def release(self) -> Any:
        """Deliver the held request to the venue now; return the venue's JSON answer."""
        with socket.create_connection(("127.0.0.1", self.target_port), timeout=10) as upstream:
            upstream.sendall(self._held_raw)
            answer = b""
            while (split := _split_request(answer)) is None:
                chunk = upstream.recv(65536)
                if not chunk:
                    raise ConnectionError(f"the venue closed the connection after {answer[:200]!r}")
                answer += chunk
        return _body(split[0])
