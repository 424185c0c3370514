"""Slow clients: a request that does not arrive in time is answered 408 or closed; others are still served."""

from __future__ import annotations

import socket
import time

import requests

from pairflow.clock import WALL_CLOCK
from tests.support.venue import make_engine, run_venue

READ_TIMEOUT_S = 1.0
BODY = b'{"type": "allMids"}'


def open_socket(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.settimeout(READ_TIMEOUT_S * 4)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Return everything the server sent before closing (raises TimeoutError if it keeps the socket open)."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_incomplete_requests_are_cut_off_after_the_read_timeout_while_others_are_served():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), read_timeout=READ_TIMEOUT_S) as url:
        silent = [open_socket(url) for _ in range(10)]
        partial_headers = [open_socket(url) for _ in range(10)]
        partial_bodies = [open_socket(url) for _ in range(10)]
        for sock in partial_headers:
            sock.sendall(b"POST /info HTTP/1.1\r\nHost: venue\r\nContent-Type: appl")
        for sock in partial_bodies:
            sock.sendall(b"POST /info HTTP/1.1\r\nHost: venue\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[:5])
        started = time.monotonic()
        assert requests.post(url + "/info", data=BODY, timeout=5).json()["BTC"] == "60000.0"

        for sock in silent + partial_headers:
            assert read_until_closed(sock) == b""
        for sock in partial_bodies:
            assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
        elapsed = time.monotonic() - started
        assert READ_TIMEOUT_S * 0.5 < elapsed < READ_TIMEOUT_S * 3
        assert requests.post(url + "/info", data=BODY, timeout=5).json()["BTC"] == "60000.0"


def test_a_request_sent_in_pieces_within_the_timeout_is_served():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), read_timeout=READ_TIMEOUT_S) as url:
        sock = open_socket(url)
        head = b"POST /info HTTP/1.1\r\nHost: venue\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
        for piece in (head[:10], head[10:], BODY[:7], BODY[7:]):
            sock.sendall(piece)
            time.sleep(READ_TIMEOUT_S / 8)
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200 ") and b'"BTC":"60000.0"' in answer


def test_oversized_request_head_is_refused():
    with run_venue(make_engine(WALL_CLOCK.now_ms()), read_timeout=READ_TIMEOUT_S) as url:
        sock = open_socket(url)
        sock.sendall(b"POST /info HTTP/1.1\r\nHost: venue\r\nX-Filler: " + b"a" * 70_000)
        assert read_until_closed(sock).startswith(b"HTTP/1.1 400 ")
