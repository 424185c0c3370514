"""Threshold bandit: choose the entry/exit z-score bands from a grid by realised net PnL.

Each arm is one ``(entry, exit)`` pair of bands. The strategy pulls an arm
when it is flat, trades the round trip with that arm's bands, and rewards the
arm with the round trip's net return (after fees, spread and funding) divided
by the spread's volatility, so rewards of different spreads and regimes are on
one scale. The policy is River's UCB or epsilon-greedy, seeded, so a replay of
the same history makes the same choices.
"""

from __future__ import annotations

from typing import Literal

from river import bandit

from operators.state import ModelState, Record

__all__ = ["ArmReward", "DEFAULT_GRID", "ThresholdBandit"]

DEFAULT_GRID: tuple[tuple[float, float], ...] = ((1.5, 0.0), (2.0, 0.0), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0))


class ArmReward(Record):
    """The reward earned by one pull of ``arm``."""

    arm: int
    reward: float


class ThresholdBandit(ModelState):
    """A seeded multi-armed bandit over a grid of (entry, exit) z-score bands.

    Parameters
    ----------
    grid
        The arms: ``(entry, exit)`` with ``entry > exit >= 0``.
    policy
        ``"ucb"`` (upper confidence bound) or ``"epsilon"`` (epsilon-greedy).
    exploration
        UCB's ``delta`` or epsilon-greedy's ``epsilon``.
    seed
        Seed of the policy's random choices.

    Examples
    --------
    >>> bands = ThresholdBandit(grid=((2.0, 0.0), (2.5, 0.5)), seed=1)
    >>> arm = bands.pull(); arm, bands.thresholds(arm)
    (0, (2.0, 0.0))
    >>> bands.update(ArmReward(arm, -1.0))
    [1]
    >>> bands.update(ArmReward(1, 2.0))
    [1]
    >>> bands.version
    'bandit:2'
    """

    def __init__(
        self,
        grid: tuple[tuple[float, float], ...] = DEFAULT_GRID,
        policy: Literal["ucb", "epsilon"] = "ucb",
        exploration: float = 1.0,
        seed: int = 42,
    ) -> None:
        if not grid:
            raise ValueError("the grid needs at least one (entry, exit) arm")
        for entry, exit_ in grid:
            if not entry > exit_ >= 0:
                raise ValueError(f"each arm needs entry > exit >= 0, received ({entry}, {exit_})")
        self.grid = tuple((float(entry), float(exit_)) for entry, exit_ in grid)
        self.arms = list(range(len(self.grid)))
        if policy == "ucb":
            self.policy = bandit.UCB(delta=exploration, burn_in=1, seed=seed)
        elif policy == "epsilon":
            self.policy = bandit.EpsilonGreedy(epsilon=exploration, burn_in=1, seed=seed)
        else:
            raise ValueError(f"policy must be 'ucb' or 'epsilon', received {policy!r}")
        self.rewards = 0

    @property
    def version(self) -> str:
        """Policy version: the number of rewards learned."""
        return f"bandit:{self.rewards}"

    def thresholds(self, arm: int) -> tuple[float, float]:
        """Return the ``(entry, exit)`` bands of ``arm``."""
        return self.grid[arm]

    def pull(self) -> int:
        """Choose the arm for the next round trip (every arm is tried once first)."""
        return int(self.policy.pull(self.arms))

    def update(self, outcome: ArmReward) -> list[int]:
        """Learn ``outcome`` and return the arm to play next."""
        if not 0 <= outcome.arm < len(self.grid):
            raise ValueError(f"arm must lie in [0, {len(self.grid)}), received {outcome.arm}")
        self.policy.update(outcome.arm, outcome.reward)
        self.rewards += 1
        return [self.pull()]
