"""A write-ahead journal of spread changes, so a trader killed at any moment can take its spreads over.

Each change a desk acts on (the spread, the target it acts on, the intents it is about to send) is
handed to the OS (with ``fsync``, as the cloid journal is, to the disk) before the router writes the
cloids and sends the orders. A restarted trader reads back the changes whose orders may have gone
out (their cloids are in the order journal) and adopts their spreads: their legs come from the
exchange's fills, attributed through the intents. Each change also carries the spread's target legs
(`SpreadTarget`), so the restart can run the journal's last change again under its own signal id:
the desk trades one change at a time, so only the last can have been cut between its legs; run
again, it sends the legs not sent (same cloids). The store cannot serve here: it is written in
batches, up to ``[storage] batch_max_age_s`` after the fact, so a spread entered just before a
SIGKILL would not be there. A torn last line (killed mid-write) is skipped: none of its orders had
been sent. A flatten's line also carries its cross of offsetting spread legs (`Cross`): no fill
shows that cross, so the restart reads it here (`SpreadJournal.crosses`) and the desk applies it again.

Examples
--------
>>> import tempfile
>>> from pairflow.events import OrderIntent
>>> path = Path(tempfile.mkdtemp()) / "spreads"
>>> leg = OrderIntent(ts=1, id="0x" + "ab" * 16, coin="ETH", pair="ETH/SOL", signal_id="s1", is_buy=True,
...                   sz=0.5, limit_px=2000.0)
>>> spread = SpreadTarget("ETH/SOL", "s1", 1, ("ETH", "SOL"), (0.5, -6.6))
>>> journal = SpreadJournal(path); journal.record("ETH/SOL", 1.0, [leg], spread); journal.close()
>>> intents, targets = SpreadJournal(path).spreads({leg.id})
>>> [intent.coin for intent in intents], targets
(['ETH'], {'ETH/SOL': 1.0})
>>> SpreadJournal(path).last().spread.sizes  # run again on restart, the SOL leg would go out
(0.5, -6.6)
"""

from __future__ import annotations

import threading
from pathlib import Path

import msgspec

from operators.netting import SpreadTarget
from operators.pnl_ledger import FLATTEN, Cross
from pairflow.durable_file import AppendLog
from pairflow.events import OrderIntent
from pairflow.logs import get_logger

__all__ = ["FLATTEN", "Cross", "SpreadChange", "SpreadJournal"]


_log = get_logger(__name__)


class SpreadChange(msgspec.Struct, frozen=True):
    """One line of the journal: a spread, the target acted on, the intents sent for it and its target legs.

    ``spread`` is None on lines written before it was journaled: such a change cannot be run again.
    ``cross`` is a flatten's cross of offsetting legs (`operators.pnl_ledger.Cross`), None on other
    lines and on lines written before crosses were journaled.
    """

    pair: str
    target: float
    intents: list[OrderIntent]
    spread: SpreadTarget | None = None
    cross: Cross | None = None


class SpreadJournal:
    """Append-only file of `SpreadChange` lines (JSON); `spreads` reads back what a restart adopts.

    ``fsync`` is the cloid journal's (`sinks.order_journal.OrderJournal`): the restart reads the two
    together, so a power loss that kept a cloid must keep the change that sent it.
    """

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self._log = AppendLog(path, fsync)  # a new journal's name survives a power loss too
        self.path = self._log.path
        self._changes = _decode(self._log.written, self.path)
        self._lock = threading.Lock()

    def record(self, pair: str, target: float, intents: list[OrderIntent], spread: SpreadTarget | None = None,
               cross: Cross | None = None) -> None:
        """Hand one spread change to the OS (with ``fsync`` to the disk) before its orders are sent."""
        change = SpreadChange(pair, target, list(intents), spread, cross)
        with self._lock:
            self._log.append(msgspec.json.encode(change))
            self._changes.append(change)

    def spreads(self, sent: set[str]) -> tuple[list[OrderIntent], dict[str, float]]:
        """Return the intents whose cloid is in ``sent`` and each such spread's last acted target.

        A flatten (pair `FLATTEN`, the line whose legs close every coin held) that acted (`crosses`)
        sets every spread before it to 0; its intents are returned too, so the PnL ledger closes the
        spreads' legs with its fills (`operators.pnl_ledger`), but no spread adopts them.
        """
        intents: dict[str, OrderIntent] = {}
        targets: dict[str, float] = {}
        for change in self._changes:
            acted = [intent for intent in change.intents if intent.id in sent]
            intents.update((intent.id, intent) for intent in acted)
            if change.pair == FLATTEN and _acted(change, sent):
                targets = dict.fromkeys(targets, 0.0)
            elif acted:
                targets[change.pair] = change.target
        return list(intents.values()), targets

    def crosses(self, sent: set[str]) -> list[Cross]:
        """Return the crosses of the flattens that acted, oldest first, for the restart's ledger to apply again.

        A flatten acted when one of its orders may have gone out (its cloid is in ``sent``) or when it
        had none to send (the cross was all of it). One killed before any of its orders went out did
        not: a restart neither runs it again nor applies its cross, and the spreads stay as held. A
        cross with a leg in a coin it has no mark for cannot be applied: it is left out (a warning
        says so) and the restart goes on.
        """
        crosses = []
        for change in self._changes:
            cross = change.cross
            if cross is None or not _acted(change, sent):
                continue
            unpriced = sorted({coin for held in cross.legs.values() for coin in held} - set(cross.marks))
            if unpriced:
                _log.warning("spread journal's cross not applied: no mark for its legs in " + ", ".join(unpriced),
                             extra={"path": str(self.path), "cross": cross.id})
                continue
            crosses.append(cross)
        return crosses

    def last(self) -> SpreadChange | None:
        """Return the last change when it can be run again (it has whole target legs for its spread), else None.

        A line that decodes but names other legs than it sizes, or another spread, is not run again:
        its intents are still adopted, and the restart goes on (a warning says why).
        """
        change = self._changes[-1] if self._changes else None
        if change is None or change.spread is None:
            return None
        spread = change.spread
        if spread.pair != change.pair or len(spread.coins) != len(spread.sizes) or not spread.coins:
            _log.warning("spread journal's last change not run again: its target legs do not match",
                         extra={"path": str(self.path), "pair": change.pair})
            return None
        return change

    def close(self) -> None:
        """Close the file."""
        self._log.close()


def _acted(change: SpreadChange, sent: set[str]) -> bool:
    return any(intent.id in sent for intent in change.intents) or (change.cross is not None and not change.intents)


def _decode(raw: bytes, path: Path) -> list[SpreadChange]:
    decoder = msgspec.json.Decoder(SpreadChange)
    changes = []
    lines = raw.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):
        try:
            changes.append(decoder.decode(line))
        except msgspec.DecodeError as error:
            _log.warning("spread journal line skipped", extra={"path": str(path), "line": number, "error": str(error)})
    return changes
