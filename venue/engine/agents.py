"""API wallets (agents): one unnamed agent per user plus up to three named ones."""

from __future__ import annotations

from .types import EngineError

MAX_NAMED_AGENTS = 3


class AgentRegistry:
    """Map agent addresses to their master; all addresses are lowercase."""

    def __init__(self) -> None:
        self.master_of: dict[str, tuple[str, int | None]] = {}
        self.unnamed: dict[str, str] = {}
        self.named: dict[str, dict[str, tuple[str, int | None]]] = {}

    def approve(self, user: str, agent: str, name: str | None, valid_until_ms: int | None) -> None:
        """Register ``agent`` for ``user``; a new unnamed agent or a reused name replaces the old agent."""
        if name:
            if not 1 <= len(name) <= 16:
                raise EngineError("Extra agent name must be between 1 and 16 characters long")
            named = self.named.setdefault(user, {})
            if name not in named and len(named) >= MAX_NAMED_AGENTS:
                raise EngineError(f"User has reached the maximum of {MAX_NAMED_AGENTS} named agents.")
            previous = named.get(name)
            if previous is not None:
                self.master_of.pop(previous[0], None)
            named[name] = (agent, valid_until_ms)
        else:
            previous_agent = self.unnamed.get(user)
            if previous_agent is not None:
                self.master_of.pop(previous_agent, None)
            self.unnamed[user] = agent
        self.master_of[agent] = (user, valid_until_ms)

    def master(self, agent: str, now_ms: int) -> str | None:
        """Return the master of a live agent, or None."""
        entry = self.master_of.get(agent)
        if entry is None or (entry[1] is not None and entry[1] < now_ms):
            return None
        return entry[0]
