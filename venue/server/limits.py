"""Size limits on what clients may send, checked before any parsing."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["MAX_BODY_BYTES", "MAX_WS_MESSAGE_BYTES", "BodyTooLarge", "read_limited_body"]

MAX_BODY_BYTES = 1 << 20
"""Largest accepted HTTP body; a 1000-order batch is about 150 KB."""

MAX_WS_MESSAGE_BYTES = 64 * 1024
"""Largest accepted WebSocket client message (subscribe/unsubscribe/ping are tiny)."""


class BodyTooLarge(Exception):
    """Raised when a request body exceeds the configured limit (answered with HTTP 413)."""


async def read_limited_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """Return the request body, raising `BodyTooLarge` as soon as it passes ``max_bytes``.

    The declared ``Content-Length`` is checked first so an oversized upload is
    refused without being read; the streamed length is checked too because the
    header can be absent (chunked) or wrong.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {declared} bytes exceeds {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
