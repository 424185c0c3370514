"""Render the Alertmanager configuration with its secrets read from files.

``infra/alertmanager/alertmanager.yml`` names every secret as ``secret:NAME``
instead of a value, so the repository holds routes and receivers but never a
token. Alertmanager 0.25 (Debian 12's) reads a Slack URL from a file but not
a webhook URL or a Telegram token, so the secrets are inlined when the file is
rendered for a deployment, from one file per secret (the layout of Docker and
systemd credentials). The rendering is text substitution: a YAML library is
not needed, and the rest of the file stays byte for byte as reviewed.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from pairflow.errors import ConfigError

__all__ = ["SECRET", "render_alertmanager_config", "secret_names", "template_text", "yaml_quoted"]

# A mapping value (after "key: ") naming a secret file; comments mentioning the form do not match.
SECRET = re.compile(r"(?<=: )secret:(\w+)")


def template_text() -> str:
    """Return the shipped ``infra/alertmanager/alertmanager.yml``."""
    return files("infra").joinpath("alertmanager/alertmanager.yml").read_text()


def secret_names(template: str) -> list[str]:
    """Return the secret names a template uses, sorted and unique.

    >>> secret_names("url: secret:webhook_url\\nid: secret:chat_id\\nagain: secret:chat_id")
    ['chat_id', 'webhook_url']
    """
    return sorted(set(SECRET.findall(template)))


def render_alertmanager_config(secrets_dir: Path, template: str | None = None) -> str:
    """Return ``template`` (default: the shipped one) with each ``secret:NAME`` replaced by ``secrets_dir/NAME``.

    Whole-number secrets (a Telegram chat id) are written bare; every other
    value is written as a double-quoted YAML scalar, so any character in a
    token is safe.

    Raises
    ------
    ConfigError
        When a secret file is missing or empty (the message names the file).
    """
    text = template_text() if template is None else template
    values: dict[str, str] = {}
    for name in secret_names(text):
        path = secrets_dir / name
        try:
            value = path.read_text().strip()
        except OSError as error:
            raise ConfigError(f"Alertmanager secret file {path} cannot be read: {error.strerror or error}") from None
        if not value:
            raise ConfigError(f"Alertmanager secret file {path} is empty")
        values[name] = value if re.fullmatch(r"-?\d+", value) else yaml_quoted(value)
    return SECRET.sub(lambda match: values[match[1]], text)


def _printable(char: str) -> bool:
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def yaml_quoted(value: str) -> str:
    """Return ``value`` as a YAML double-quoted scalar; characters YAML may not hold raw are escaped.

    JSON's escaping is not enough: it writes astral characters as surrogate
    pairs, which YAML parsers reject.

    >>> print(yaml_quoted('a"b\\c'), yaml_quoted("\N{LINEAR B SYLLABLE B008 A}"), yaml_quoted("\x07"))
    "a\\"b\\\\c" "\N{LINEAR B SYLLABLE B008 A}" "\\x07"
    """
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif _printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'
