"""Accounts and margin: deposits, transfers, leverage, isolated margin, agents, fee rates, ledgers."""

from __future__ import annotations

from decimal import Decimal

from .accounts import Account, tx_hash
from .constants import BUILDER_MIN_ACCOUNT_VALUE, DEFAULT_LEVERAGE, MAX_APPROVED_BUILDER_FEE, PERP_BUILDER_FEE_CAP
from .events import EventBus
from .margin import available, figures, withdrawable
from .rules import MONEY_DECIMALS, dec, from_number, parse_decimal, scale
from .state import EngineState
from .types import Builder, Channel, EngineError, EngineEvent
from .views import ClassTransfer, Deposit, InternalTransfer, LedgerUpdate

BUILDER_NOT_APPROVED = "Builder fee has not been approved."


class Accounting:
    """Money and permissions of every address, over the shared `EngineState`."""

    def __init__(self, state: EngineState, events: EventBus) -> None:
        self.state = state
        self.events = events
        self.accounts = state.accounts

    def account(self, user: str) -> Account:
        """Return the account of an address, creating it on first sight."""
        address = user.lower()
        account = self.accounts.get(address)
        if account is None:
            account = self.accounts[address] = Account(address)
        return account

    def existing(self, user: str) -> Account:
        """Return the account of an address, or a detached empty one (queries never create accounts)."""
        account = self.accounts.get(user.lower())
        return account if account is not None else Account(user.lower())

    def settings(self, account: Account, asset: int) -> list:
        """Return ``[is_cross, leverage]`` of an asset for the account, creating the defaults."""
        settings = account.settings.get(asset)
        if settings is None:
            spec = self.state.specs[asset]
            settings = account.settings[asset] = [not spec.only_isolated, min(DEFAULT_LEVERAGE, spec.max_leverage)]
        return settings

    def fee_rates(self, account: Account) -> tuple[int, int]:
        """Return the account's ``(taker, maker)`` rates, recomputed once per day from 14-day volume."""
        day = self.state.day
        if account.fee_day != day:
            volume = sum(sum(v) for d, v in account.daily_vlm.items() if day - 14 <= d < day)
            account.fee_rates = self.state.fee_model.rates(account.address, volume // 10**MONEY_DECIMALS)
            account.fee_day = day
        return account.fee_rates

    def ledger(self, account: Account, delta: Deposit | ClassTransfer | InternalTransfer) -> None:
        """Append a non-funding ledger entry and queue its event."""
        now = self.state.now_ms
        entry = LedgerUpdate(now, tx_hash("ledger", account.address, len(account.ledger), now), delta)
        account.ledger.append(entry)
        self.events.begin()
        self.events.other(EngineEvent(Channel.LEDGER, account.address, entry))

    def fund(self, user: str, usdc) -> None:
        """Deposit ``usdc`` into the user's perp account and log a deposit."""
        amount = from_number(usdc, MONEY_DECIMALS)
        if amount <= 0:
            raise EngineError(f"Deposit amount must be positive, received {usdc}")
        account = self.account(user)
        account.cash += amount
        self.ledger(account, Deposit(dec(amount, MONEY_DECIMALS)))
        self.events.flush()

    def is_user(self, address: str) -> bool:
        """Tell whether the address has an account."""
        return address.lower() in self.accounts

    def approve_agent(self, user: str, agent: str, name: str | None, valid_until_ms: int | None) -> None:
        """Let ``agent`` trade for ``user``."""
        if not self.is_user(user):
            raise EngineError(f"Must deposit before performing actions. User: {user.lower()}")
        self.state.agents.approve(user.lower(), agent.lower(), name, valid_until_ms)

    def resolve_signer(self, signer: str) -> str | None:
        """Return the acting user of a signer: an agent's master, a known user itself, else None."""
        address = signer.lower()
        master = self.state.agents.master(address, self.state.now_ms)
        if master is not None:
            return master
        return address if address in self.accounts else None

    def approve_builder_fee(self, user: str, builder: str, max_fee: int) -> None:
        """Let ``builder`` charge ``user`` up to ``max_fee`` tenths of a basis point; replaces an earlier approval.

        The builder must hold 100 USDC of perp account value; an approval of 0 still lets orders name the
        builder (attribution without a fee).
        """
        if not 0 <= max_fee <= MAX_APPROVED_BUILDER_FEE:
            raise EngineError(f"Max fee rate {percent_text(max_fee)} exceeds the maximum of 1%.")
        target = self.accounts.get(builder.lower())
        state = self.state
        if target is None or figures(target, state.specs, state.mark_or_zero).total_value < BUILDER_MIN_ACCOUNT_VALUE:
            raise EngineError("Builder has insufficient balance to be approved.")
        state.builder_approvals.setdefault(user.lower(), {})[builder.lower()] = max_fee

    def max_builder_fee(self, user: str, builder: str) -> int:
        """Return the fee the user approved for the builder (tenths of a basis point), 0 without approval."""
        return self.state.builder_approvals.get(user.lower(), {}).get(builder.lower(), 0)

    def check_builder(self, account: Account, builder: Builder) -> None:
        """Refuse an order action whose builder the user did not approve or whose fee is too high.

        The real exchange's text for an unapproved builder is pinned by third-party reports; the one for
        a fee above the approved rate is not, so it reuses it (the approval does not cover that fee), and
        the text for the perp cap is this venue's own.
        """
        approved = self.state.builder_approvals.get(account.address, {}).get(builder.address)
        if approved is None:
            raise EngineError(BUILDER_NOT_APPROVED)
        if builder.fee > PERP_BUILDER_FEE_CAP:
            raise EngineError(
                f"Builder fee {builder.fee} exceeds the maximum of {PERP_BUILDER_FEE_CAP} (0.1%) for perps.")
        if builder.fee > approved:
            raise EngineError(BUILDER_NOT_APPROVED)

    def update_leverage(self, user: str, asset: int, is_cross: bool, leverage: int) -> None:
        """Set cross/isolated mode and leverage (1..maxLeverage) of an asset for the user."""
        account = self.account(user)
        account.n_requests += 1
        specs = self.state.specs
        if not isinstance(asset, int) or not 0 <= asset < len(specs):
            raise EngineError(f"Unknown asset. asset={asset}")
        spec = specs[asset]
        if not isinstance(leverage, int) or not 1 <= leverage <= spec.max_leverage:
            raise EngineError(f"Invalid leverage value: {leverage} (allowed 1..{spec.max_leverage}). asset={asset}")
        if is_cross and spec.only_isolated:
            raise EngineError(f"Cross margin is not allowed for this asset. asset={asset}")
        settings = self.settings(account, asset)
        position = account.positions.get(asset)
        if position is not None and settings[0] != bool(is_cross):
            raise EngineError(f"Cannot switch leverage type with open position. asset={asset}")
        settings[0] = bool(is_cross)
        settings[1] = leverage

    def update_isolated_margin(self, user: str, asset: int, ntli: int) -> None:
        """Add (positive) or remove (negative) ``ntli`` micro-USDC of isolated margin on a position."""
        state = self.state
        account = self.account(user)
        account.n_requests += 1
        position = account.positions.get(asset) if isinstance(asset, int) else None
        if position is None or self.settings(account, asset)[0]:
            raise EngineError(f"Cannot update margin for position that is not isolated. asset={asset}")
        fig = figures(account, state.specs, state.mark_or_zero)
        if ntli > 0 and available(account, fig) < ntli:
            raise EngineError(f"Insufficient margin to add isolated margin. asset={asset}")
        if ntli < 0:
            mark = state.mark_or_zero(asset)
            upnl = position.szi * mark - position.basis
            required = abs(position.szi) * mark // account.settings[asset][1]
            if position.iso_margin + upnl + ntli < required:
                raise EngineError(f"Insufficient isolated margin to remove. asset={asset}")
        account.cash -= ntli
        position.iso_margin += ntli

    def usd_class_transfer(self, user: str, amount: str, to_perp: bool) -> None:
        """Move USDC between the perp and spot accounts and log an ``accountClassTransfer``."""
        account = self.account(user)
        micro = _amount(amount)
        if to_perp:
            if account.spot_usdc < micro:
                raise EngineError("Insufficient spot balance for transfer.")
            account.spot_usdc -= micro
            account.cash += micro
        else:
            if withdrawable(account, figures(account, self.state.specs, self.state.mark_or_zero)) < micro:
                raise EngineError("Insufficient margin for transfer.")
            account.cash -= micro
            account.spot_usdc += micro
        self.ledger(account, ClassTransfer(dec(micro, MONEY_DECIMALS), bool(to_perp)))
        self.events.flush()

    def usd_send(self, user: str, destination: str, amount: str) -> None:
        """Send perp USDC to another address (created if new); both ledgers get an ``internalTransfer``."""
        account = self.account(user)
        micro = _amount(amount)
        if withdrawable(account, figures(account, self.state.specs, self.state.mark_or_zero)) < micro:
            raise EngineError("Insufficient margin for transfer.")
        target = self.account(destination)
        account.cash -= micro
        target.cash += micro
        delta = InternalTransfer(dec(micro, MONEY_DECIMALS), account.address, target.address, Decimal(0))
        self.ledger(account, delta)
        self.ledger(target, delta)
        self.events.flush()


def _amount(amount) -> int:
    parsed = parse_decimal(str(amount).strip())
    micro = scale(parsed, MONEY_DECIMALS) if parsed is not None else None
    if not micro:
        raise EngineError(f"Invalid amount: {amount!r} was received")
    return micro


def percent_text(tenths_of_bp: int) -> str:
    """Format a fee in tenths of a basis point as the percent string approvals use (``1001 -> "1.001%"``)."""
    whole, fraction = divmod(tenths_of_bp, 1000)
    return f"{whole}.{fraction:03d}".rstrip("0").rstrip(".") + "%"
