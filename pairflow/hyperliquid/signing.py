"""Recover the address that signed a Hyperliquid action.

Shared by the venue (to authenticate ``/exchange`` requests) and by the order
router (to check its own payloads). Recovery wraps the SDK's helpers so the
hash is computed byte-for-byte as the client computed it; the action must be
the dict parsed from the request JSON *with its keys in arrival order*
(``json.loads`` keeps them), because the L1 hash is a msgpack of that dict.

The SDK signs as testnet (phantom-agent source ``"b"``, ``hyperliquidChain``
``"Testnet"``) for every base URL except the mainnet one, so the venue
verifies as testnet first and may fall back to mainnet parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import keys
from eth_utils import keccak
from hyperliquid.utils import signing as sdk_signing

__all__ = [
    "APPROVE_AGENT_SIGN_TYPES",
    "APPROVE_BUILDER_FEE_SIGN_TYPES",
    "USER_SIGNED_ACTIONS",
    "Signature",
    "l1_digest",
    "parse_signature",
    "recover_l1_signer",
    "recover_l1_signers",
    "recover_user_signer",
    "recover_user_signers",
]

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

APPROVE_AGENT_SIGN_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "agentAddress", "type": "address"},
    {"name": "agentName", "type": "string"},
    {"name": "nonce", "type": "uint64"},
]

APPROVE_BUILDER_FEE_SIGN_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "maxFeeRate", "type": "string"},
    {"name": "builder", "type": "address"},
    {"name": "nonce", "type": "uint64"},
]

USER_SIGNED_ACTIONS: dict[str, tuple[str, list[dict[str, str]]]] = {
    "approveAgent": ("HyperliquidTransaction:ApproveAgent", APPROVE_AGENT_SIGN_TYPES),
    "approveBuilderFee": ("HyperliquidTransaction:ApproveBuilderFee", APPROVE_BUILDER_FEE_SIGN_TYPES),
    "usdClassTransfer": ("HyperliquidTransaction:UsdClassTransfer", sdk_signing.USD_CLASS_TRANSFER_SIGN_TYPES),
    "usdSend": ("HyperliquidTransaction:UsdSend", sdk_signing.USD_SEND_SIGN_TYPES),
    "spotSend": ("HyperliquidTransaction:SpotSend", sdk_signing.SPOT_TRANSFER_SIGN_TYPES),
    "withdraw3": ("HyperliquidTransaction:Withdraw", sdk_signing.WITHDRAW_SIGN_TYPES),
    "sendAsset": ("HyperliquidTransaction:SendAsset", sdk_signing.SEND_ASSET_SIGN_TYPES),
    "tokenDelegate": ("HyperliquidTransaction:TokenDelegate", sdk_signing.TOKEN_DELEGATE_TYPES),
    "convertToMultiSigUser": (
        "HyperliquidTransaction:ConvertToMultiSigUser",
        sdk_signing.CONVERT_TO_MULTI_SIG_USER_SIGN_TYPES,
    ),
    "userDexAbstraction": (
        "HyperliquidTransaction:UserDexAbstraction",
        sdk_signing.USER_DEX_ABSTRACTION_SIGN_TYPES,
    ),
    "userSetAbstraction": (
        "HyperliquidTransaction:UserSetAbstraction",
        sdk_signing.USER_SET_ABSTRACTION_SIGN_TYPES,
    ),
}
"""Action ``type`` -> (EIP-712 primary type, field list) for every user-signed action."""

Signature = tuple[int, int, int]
"""``(v, r, s)`` as integers."""


def parse_signature(signature: Mapping[str, Any]) -> Signature | None:
    """Return ``(v, r, s)`` from a wire signature, or None when it is malformed.

    ``r`` and ``s`` arrive as ``0x`` hex strings *without* zero padding (the SDK
    formats them with ``eth_utils.to_hex``), so they are parsed as integers.
    """
    try:
        r_text, s_text, v = signature["r"], signature["s"], signature["v"]
    except (KeyError, TypeError):
        return None
    if not isinstance(r_text, str) or not isinstance(s_text, str) or type(v) is not int:
        return None
    if v not in (27, 28) or len(r_text) > 66 or len(s_text) > 66:
        return None
    try:
        r = int(r_text, 16)
        s = int(s_text, 16)
    except ValueError:
        return None
    if not (0 < r < SECP256K1_ORDER and 0 < s < SECP256K1_ORDER):
        return None
    return v, r, s


def _agent_type_hash() -> bytes:
    fields = sdk_signing.l1_payload({})["types"]["Agent"]
    return keccak(text="Agent(" + ",".join(f"{field['type']} {field['name']}" for field in fields) + ")")


_L1_DOMAIN_SEPARATOR: bytes = encode_typed_data(
    full_message=sdk_signing.l1_payload(sdk_signing.construct_phantom_agent(bytes(32), False))).header
_AGENT_TYPE_HASH = _agent_type_hash()
_SOURCE_HASHES = {is_mainnet: keccak(text=sdk_signing.construct_phantom_agent(b"", is_mainnet)["source"])
                  for is_mainnet in (False, True)}


def l1_digest(connection_id: bytes, is_mainnet: bool) -> bytes:
    """Return the EIP-712 digest an L1 action's signature covers (its phantom agent under the L1 domain).

    The same bytes as ``encode_typed_data(full_message=l1_payload(phantom_agent))`` hashed for
    signing, computed from constants derived once from the SDK's payload: the generic EIP-712
    encoder costs more than the signature recovery itself.
    """
    struct_hash = keccak(_AGENT_TYPE_HASH + _SOURCE_HASHES[is_mainnet] + connection_id)
    return keccak(b"\x19\x01" + _L1_DOMAIN_SEPARATOR + struct_hash)


def _recover_digest(digest: bytes, signature: Signature) -> str | None:
    v, r, s = signature
    try:
        public_key = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except Exception:  # eth_keys raises several types for points that are not on the curve
        return None
    return "0x" + public_key.to_canonical_address().hex()


def _recover(structured_data: Any, signature: Signature) -> str | None:
    try:
        address = Account.recover_message(structured_data, vrs=signature)
    except Exception:  # eth_keys raises several types for points that are not on the curve
        return None
    return address.lower()


def recover_l1_signer(
    action: Any,
    signature: Mapping[str, Any],
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    *,
    is_mainnet: bool = False,
) -> str | None:
    """Return the lowercase address that signed an L1 action, or None if none can be recovered.

    Parameters
    ----------
    action
        The action exactly as parsed from the request (key order preserved).
    signature
        The wire ``{"r", "s", "v"}`` object.
    vault_address
        The request's ``vaultAddress`` (None when absent).
    nonce
        The request's ``nonce``.
    expires_after
        The request's ``expiresAfter`` (None when absent).
    is_mainnet
        Verify with the mainnet phantom-agent source ``"a"`` instead of testnet ``"b"``.
    """
    parsed = parse_signature(signature)
    if parsed is None:
        return None
    try:
        connection_id = sdk_signing.action_hash(action, vault_address, nonce, expires_after)
    except (TypeError, ValueError, OverflowError):
        return None
    return _recover_digest(l1_digest(connection_id, is_mainnet), parsed)


def recover_l1_signers(
    action: Any,
    signature: Mapping[str, Any],
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    *,
    networks: Iterable[bool] = (False,),
) -> Iterable[str | None]:
    """Yield the signer recovered for each network flag in ``networks`` (testnet first by default).

    Lazy, so a caller that accepts the first known address pays for one recovery only.
    """
    for is_mainnet in networks:
        yield recover_l1_signer(action, signature, vault_address, nonce, expires_after, is_mainnet=is_mainnet)


def recover_user_signer(
    action: Mapping[str, Any],
    signature: Mapping[str, Any],
    *,
    is_mainnet: bool = False,
) -> str | None:
    """Return the lowercase address that signed a user-signed action, or None.

    The EIP-712 type is chosen from ``action["type"]``. ``approveAgent`` without
    ``agentName`` is verified with ``agentName=""``: the SDK signs the empty
    name and then deletes the key from the wire.
    """
    action_type = action.get("type")
    if action_type not in USER_SIGNED_ACTIONS:
        return None
    parsed = parse_signature(signature)
    if parsed is None:
        return None
    primary_type, sign_types = USER_SIGNED_ACTIONS[action_type]
    message = dict(action)
    if action_type == "approveAgent" and "agentName" not in message:
        message["agentName"] = ""
    message["hyperliquidChain"] = "Mainnet" if is_mainnet else "Testnet"
    try:
        payload = sdk_signing.user_signed_payload(primary_type, sign_types, message)
        structured = encode_typed_data(full_message=payload)
    except Exception:  # missing fields, wrong types or a bad chain id all make the payload unencodable
        return None
    return _recover(structured, parsed)


def recover_user_signers(
    action: Mapping[str, Any],
    signature: Mapping[str, Any],
    *,
    networks: Iterable[bool] = (False,),
) -> Iterable[str | None]:
    """Yield the user-signed-action signer for each network flag in ``networks``."""
    for is_mainnet in networks:
        yield recover_user_signer(action, signature, is_mainnet=is_mainnet)
