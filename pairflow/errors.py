"""Shared error base classes.

Every error pairflow raises on purpose derives from `PairflowError`, whose
`str()` is a single line an operator can act on: the CLI prints it without a
traceback.
"""

from __future__ import annotations

from pairflow.redaction import redact_url_passwords

__all__ = [
    "ClusterError", "ConfigError", "PairflowError", "ParseError", "RejectedRowsError", "StorageError", "one_line",
]


def one_line(text: str) -> str:
    """Return ``text`` with every run of whitespace (line breaks included) as one space, and no space at either end.

    Why: what an operator reads (an error, a log line, a pause reason) must
    stay one line whatever it quotes: a server's multi-line answer, a reason
    typed with a line break. The store's rewrite of migration statements
    folds them the same way before matching them.

    >>> one_line("  disk full\\r\\n\\tretry later ")
    'disk full retry later'
    """
    return " ".join(text.split())


class PairflowError(Exception):
    """Base class for expected, user-facing failures.

    ``exit_code`` is what the CLI exits with when the error ends a command:
    1 for a failure while running, 2 (`ConfigError`) for a command that could
    not start because of what it was given.

    Parameters
    ----------
    message
        One line naming the cause; newlines are folded into spaces so the
        message stays one line in logs and on the terminal, and passwords in
        URLs are redacted so no error path can print one.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        self.message = redact_url_passwords(one_line(str(message)))
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ConfigError(PairflowError):
    """Raise when configuration, an option or an input the user named is missing or invalid (names which and why)."""

    exit_code = 2


class ClusterError(PairflowError):
    """Raise when a process of a Bytewax cluster lost its peers: a cluster runs whole or not at all."""


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
