"""Encrypted signing keys: eth-account keystore JSON (scrypt), one file per address, never plain text.

A key is unlocked into memory for as long as a signer needs it; the
passphrase comes from a prompt or ``PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE``.
Files are written with mode 600, atomically and durably (a key whose address
was shown must not vanish in a power loss, nor a crash leave half a file
under its name), and named by address, so `list_keys` can show what is there
without unlocking anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from eth_account import Account

from pairflow.durable_file import write_bytes
from pairflow.errors import ConfigError

__all__ = ["api_token", "import_key", "list_keys", "new_key", "unlock"]

_SCRYPT_N = 2**14  # eth-account's light scrypt cost: seconds to unlock would slow every start


def _write(directory: Path, private_key: bytes, passphrase: str) -> str:
    if not passphrase:
        raise ConfigError("the keystore passphrase is empty; set one")
    account = Account.from_key(private_key)
    encrypted = Account.encrypt(private_key, passphrase, kdf="scrypt", iterations=_SCRYPT_N)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{account.address.lower()}.json"
    if path.exists():
        raise ConfigError(f"a keystore for {account.address} already exists: {path}")
    write_bytes(path, json.dumps(encrypted).encode(), mode=0o600)
    return account.address


def new_key(directory: Path, passphrase: str) -> str:
    """Create a random key, store it encrypted in ``directory`` and return its address."""
    return _write(directory, bytes(Account.create().key), passphrase)


def import_key(directory: Path, private_key_hex: str, passphrase: str) -> str:
    """Store an existing hex private key encrypted in ``directory`` and return its address."""
    text = private_key_hex.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError("the private key must be 64 hex digits") from None
    if len(key) != 32:
        raise ConfigError(f"the private key must be 64 hex digits, received {len(text)}")
    return _write(directory, key, passphrase)


def list_keys(directory: Path) -> list[tuple[str, Path]]:
    """Return ``(address, file)`` for every keystore in ``directory`` (nothing is decrypted)."""
    found = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            address = json.loads(path.read_text())["address"]
        except (ValueError, KeyError, TypeError):
            continue
        found.append(("0x" + address.removeprefix("0x"), path))
    return found


def unlock(path: Path, passphrase: str) -> bytes:
    """Decrypt the key in ``path``; a wrong passphrase or a file that is no keystore is a one-line `ConfigError`."""
    try:
        encrypted = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read keystore {path}: {type(error).__name__}") from None
    if not isinstance(encrypted, dict) or not isinstance(encrypted.get("crypto", encrypted.get("Crypto")), dict):
        raise ConfigError(f"{path} is not a keystore: JSON with a 'crypto' section was expected")
    try:
        return bytes(Account.decrypt(encrypted, passphrase))
    except ValueError:
        raise ConfigError(f"wrong passphrase for keystore {path}") from None
    except (KeyError, TypeError, AttributeError, IndexError, NotImplementedError) as error:
        # eth-account indexes the file's fields without checking them first.
        raise ConfigError(f"keystore {path} is damaged: {type(error).__name__} {error}") from None


def api_token(private_key: bytes) -> str:
    """Return the API token derived from a keystore's key (HMAC-SHA256 under a fixed label).

    Why derive: an operator who already keeps the signing key encrypted gets an API
    token with no second secret in the config, the same on every start, and the token
    reveals nothing about the key.

    >>> token = api_token(bytes(32))
    >>> len(token), token == api_token(bytes(32)), token == api_token(bytes(31) + b"\\x01")
    (64, True, False)
    """
    return hmac.new(private_key, b"pairflow api token", hashlib.sha256).hexdigest()
