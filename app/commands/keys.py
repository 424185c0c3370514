"""``pairflow keys new|import|list|approve-agent``: the encrypted keystore and agent (API) wallets.

The recommended live setup signs with an agent wallet: its key is in the
keystore, the account's own key only approves it (once, ``approve-agent``)
and need not stay on the machine. Mainnet needs ``--mainnet`` on top of its URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from hyperliquid.utils.signing import sign_agent
from pydantic import SecretStr

from app.options import examples
from pairflow.clock import WALL_CLOCK
from pairflow.errors import ConfigError
from pairflow.hyperliquid.keystore import import_key, list_keys, new_key, unlock
from pairflow.hyperliquid.urls import is_mainnet, resolve_api_url

__all__ = ["PASSPHRASE_ENV", "passphrase", "register", "require_network", "unlock_keystore"]

PASSPHRASE_ENV = "PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE"
keys_app = typer.Typer(help="Encrypted signing keys and agent wallets." + examples("pairflow keys new", "pairflow keys list"),
                       no_args_is_help=True)
DirOption = Annotated[Path, typer.Option("--dir", help="Keystore directory (one encrypted JSON file per address).")]


def passphrase(confirm: bool = False) -> str:
    """Return the passphrase from $PAIRFLOW_SECRETS__KEYSTORE_PASSPHRASE, else prompt for it (hidden)."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    return typer.prompt("keystore passphrase", hide_input=True, confirmation_prompt=confirm)


def unlock_keystore(path: Path, configured: SecretStr | None = None) -> bytes:
    """Return the key in the keystore ``path``, asking for its passphrase only once the file is there.

    A mistyped path is then one line and exit 2, not a passphrase prompt that
    fails afterwards (or, without a terminal, an abort). ``configured`` is
    ``[secrets] keystore_passphrase``: the traders (`pairflow trade`, `pairflow run
    execution`) pass it so a passphrase kept in the config file unlocks the key the
    same way for both; without it, the environment, then a prompt.
    """
    if not path.is_file():
        raise ConfigError(f"keystore {path} was not found (pairflow keys list --dir DIR shows the stored ones)")
    return unlock(path, configured.get_secret_value() if configured is not None else passphrase())


def require_network(url: str, mainnet: bool) -> str:
    """Resolve ``url``; refuse mainnet without ``--mainnet`` and ``--mainnet`` with another URL."""
    resolved = resolve_api_url(url)
    if is_mainnet(resolved) != mainnet:
        raise ConfigError("mainnet needs --mainnet" if not mainnet else f"--mainnet given but {url} is not mainnet")
    return resolved


@keys_app.command("new")
def new_command(directory: DirOption = Path("data/keys")) -> None:
    """Create a random key, store it encrypted, print its address (never the key).

    \b
    Examples:
      pairflow keys new --dir data/keys
    """
    typer.echo(new_key(directory, passphrase(confirm=True)))


@keys_app.command("import")
def import_command(directory: DirOption = Path("data/keys")) -> None:
    """Store an existing private key (read from a hidden prompt) encrypted; print its address.

    \b
    Examples:
      pairflow keys import --dir data/keys
    """
    key = typer.prompt("private key (hex)", hide_input=True)
    typer.echo(import_key(directory, key, passphrase(confirm=True)))


@keys_app.command("list")
def list_command(directory: DirOption = Path("data/keys")) -> None:
    """List the addresses in the keystore directory (nothing is decrypted).

    \b
    Examples:
      pairflow keys list --dir data/keys
    """
    for address, path in list_keys(directory):
        typer.echo(f"{address}  {path}")


@keys_app.command("approve-agent")
def approve_agent_command(
    agent: Annotated[str, typer.Argument(help="Address of the agent wallet (in the keystore) to approve.")],
    account_keystore: Annotated[Path, typer.Option("--account-keystore", help="Keystore of the account's own key.")],
    url: Annotated[str, typer.Option("--url", help="testnet, mainnet or a venue base URL.")] = "testnet",
    name: Annotated[str, typer.Option("--name", help="Agent name (named agents persist).")] = "pairflow",
    mainnet: Annotated[bool, typer.Option("--mainnet", help="Required to act on mainnet.")] = False,
) -> None:
    """Approve AGENT to trade for the account whose key is in --account-keystore.

    \b
    Examples:
      pairflow keys approve-agent 0x1111111111111111111111111111111111111111 --account-keystore account.json --url testnet
    """
    import httpx

    base = require_network(url, mainnet)
    wallet = Account.from_key(unlock_keystore(account_keystore))
    nonce = WALL_CLOCK.now_ms()
    action = {"type": "approveAgent", "agentAddress": agent, "agentName": name, "nonce": nonce}
    signature = sign_agent(wallet, action, is_mainnet(base))
    answer = httpx.post(f"{base}/exchange", json={"action": action, "nonce": nonce, "signature": signature,
                                                  "vaultAddress": None, "expiresAfter": None}, timeout=10).json()
    if answer.get("status") != "ok":
        raise ConfigError(f"approveAgent refused: {answer.get('response')}")
    typer.echo(f"agent {agent} approved for {wallet.address}")


def register(app: typer.Typer) -> None:
    """Add ``pairflow keys`` to the CLI."""
    app.add_typer(keys_app, name="keys")
