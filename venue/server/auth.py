"""Turn a signed ``/exchange`` request into the user it acts for.

L1 actions may be signed by the user or by one of its approved agents (API
wallets); user-signed actions (transfers, approvals) only by the user. The
recovered address is reported verbatim in the errors, as the real exchange
does, because it is the main debugging aid for signing mistakes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pairflow.hyperliquid.schemas import ExchangeRequest
from pairflow.hyperliquid.signing import recover_l1_signers, recover_user_signers

__all__ = ["ActionRejected", "Actor", "authenticate_l1", "authenticate_user_signed"]


class ActionRejected(Exception):
    """Raised with the exact string the exchange answers as ``{"status":"err","response":...}``."""


@dataclass(frozen=True)
class Actor:
    """Who signed a request (``signer``, owner of the nonce) and whom it acts for (``user``)."""

    signer: str
    user: str


def _signature(request: ExchangeRequest) -> dict[str, Any]:
    sig = request.signature
    return {"r": sig.r, "s": sig.s, "v": sig.v}


def _first_known(engine: Any, signers: Iterable[str | None], lookup: Callable[[str], str | None],
                 unknown: str) -> tuple[str, str]:
    """Return ``(signer, user)`` for the first recovered signer that ``lookup`` maps to a user.

    ``lookup`` runs under the engine lock; ``signers`` is consumed lazily so no
    further network is recovered once one matches. When none matches, raise
    `ActionRejected` with ``unknown`` naming the first recovered address.
    """
    first: str | None = None
    for signer in signers:
        if signer is None:
            continue
        if first is None:
            first = signer
        with engine.lock:
            user = lookup(signer)
        if user is not None:
            return signer, user
    if first is None:
        raise ActionRejected("Unable to recover signer.")
    raise ActionRejected(unknown.format(first))


def authenticate_l1(engine: Any, request: ExchangeRequest, networks: Iterable[bool] = (False,)) -> Actor:
    """Return the acting user of an L1 action or raise `ActionRejected`.

    Recovery runs outside the engine lock (it is the costly part); only the
    signer lookup takes it. With several ``networks`` the first recovered
    address that is a known user or agent wins; otherwise the error names the
    address recovered with the first network, like the real exchange.
    """
    signers = recover_l1_signers(
        request.action, _signature(request), request.vaultAddress, request.nonce, request.expiresAfter,
        networks=networks,
    )
    signer, user = _first_known(engine, signers, engine.resolve_signer, "User or API Wallet {} does not exist.")
    if request.vaultAddress is not None and request.vaultAddress.lower() != user.lower():
        raise ActionRejected("Vault not registered")
    return Actor(signer=signer, user=user.lower())


def authenticate_user_signed(engine: Any, action: dict, request: ExchangeRequest,
                             networks: Iterable[bool] = (False,)) -> Actor:
    """Return the user who signed a user-signed action or raise `ActionRejected`.

    Agents are not users, so an agent-signed transfer is refused with the
    "Must deposit" message naming the agent address.
    """
    signer, _ = _first_known(
        engine,
        recover_user_signers(action, _signature(request), networks=networks),
        lambda address: address if engine.is_user(address) else None,
        "Must deposit before performing actions. User: {}",
    )
    return Actor(signer=signer, user=signer)
