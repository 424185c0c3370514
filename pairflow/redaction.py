"""What counts as a secret, and how it is hidden, in one place for errors, logs and `config show`.

Two kinds of secret reach text: values whose *name* says they are secret
(``password``, ``api_token``, ``signing_key`` ...), and passwords written into
URLs (``https://user:password@host``), which have no name of their own and
would otherwise travel inside DSNs, error messages and reprs.

>>> redact_url_passwords("cannot reach postgres://admin:S3CRET@db/x (timeout)")
'cannot reach postgres://admin:<redacted>@db/x (timeout)'
>>> is_secret_name("storage.password"), is_secret_name("partition_key")
(True, False)
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "is_secret_name", "redact_url_passwords"]

REDACTED = "<redacted>"

_SECRET_WORDS = ("password", "passphrase", "secret", "token", "private", "key", "authorization", "credential")
_NOT_SECRET = frozenset({"key", "keys", "coin_key", "partition_key", "sort_key"})
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/@]*@", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a field or key called ``name`` (the last dotted part counts) holds a secret."""
    lowered = name.lower().rpartition(".")[2]
    if lowered in _NOT_SECRET:
        return False
    return any(word in lowered for word in _SECRET_WORDS)


def redact_url_passwords(text: str) -> str:
    """Replace the password of every ``scheme://user:password@`` in ``text`` with "<redacted>"."""
    if "@" not in text:
        return text
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
