"""Snapshot and restore an operator's whole state as pickled bytes."""

from __future__ import annotations

import pickle
from typing import Self

__all__ = ["PickledState"]


class PickledState:
    """Give an operator ``snapshot`` and ``restore`` over its whole instance ``__dict__``.

    Pickled bytes suit Bytewax recovery: they are immutable, so a later update
    cannot change a stored snapshot, and Bytewax stores them without another
    deep copy.
    """

    def snapshot(self) -> bytes:
        """Return the whole state pickled: immutable, and Bytewax stores it without another deep copy."""
        return pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, state: bytes) -> Self:
        """Rebuild an operator from a `snapshot`."""
        operator = cls.__new__(cls)
        operator.__dict__.update(pickle.loads(state))
        return operator
