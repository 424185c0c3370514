"""Read and parse request bodies: bounded in size, JSON with keys kept in arrival order."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request

from pairflow.hyperliquid.schemas import BadRequest

from .limits import MAX_BODY_BYTES

__all__ = ["BodyTooLarge", "parse_json", "read_limited_body"]


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


def parse_json(body: bytes | str) -> Any:
    """Parse a request body or WebSocket message, keeping object keys in arrival order (the L1 hash depends on it).

    Like the real venue's parser, refuse what is not strict JSON: invalid UTF-8, lone
    UTF-16 surrogates in ``\\u`` escapes, ``NaN``/``Infinity``, numbers out of float range
    and nesting deeper than the interpreter allows.
    """
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
