"""An ``emit`` callable for collector tests: keeps what was emitted and stores gaps like the ingest flow would."""

from __future__ import annotations

from pairflow.events import Event, Gap
from pairflow.storage import BatchWriter


class Emitted(list):
    """Every ``(topic, key, event)`` emitted, in order; `Gap` events also go to ``writer`` when given."""

    def __init__(self, writer: BatchWriter | None = None) -> None:
        super().__init__()
        self.writer = writer

    def __call__(self, topic: str, key: str, event: Event) -> None:
        self.append((topic, key, event))
        if self.writer is not None and isinstance(event, Gap):
            self.writer.add(event)

    @property
    def gaps(self) -> list[Gap]:
        """The gaps emitted so far."""
        return [event for _, _, event in self if isinstance(event, Gap)]
