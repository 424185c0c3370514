"""Shared error base classes.

Every error pairflow raises on purpose derives from `PairflowError`, whose
`str()` is a single line an operator can act on: the CLI prints it without a
traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "PairflowError", "ParseError", "RejectedRowsError", "StorageError"]


class PairflowError(Exception):
    """Base class for expected, user-facing failures.

    Parameters
    ----------
    message
        One line naming the cause; newlines are folded into spaces so the
        message stays one line in logs and on the terminal.
    """

    def __init__(self, message: str) -> None:
        self.message = " ".join(str(message).split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ConfigError(PairflowError):
    """Raise when configuration is missing or invalid (names the field and the reason)."""


class StorageError(PairflowError):
    """Raise when the store cannot be reached, written, or a spill cannot be saved."""


class RejectedRowsError(StorageError):
    """Raise when rows cannot be encoded for their table (wrong type, out of range); retrying cannot help."""


class ParseError(PairflowError):
    """Raise when a wire record cannot be turned into an event.

    Parameters
    ----------
    field
        Name of the offending field (dotted path for nested fields).
    value
        The value that was received; its repr is shortened to keep one line.
    reason
        Why the value was rejected, e.g. "expected a decimal string".
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {reason} (received {shown})")
