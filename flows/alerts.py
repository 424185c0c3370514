"""pairflow's own alerts to Alertmanager: the ``pf.alerts`` relay (broker mode) and the in-process route (embedded).

::

    pf.alerts ─► decode ─► (key, [Alert]) ─► AlertSink (outbox ─► Alertmanager)
                       └─► dead letters (JSON lines beside the outbox)

    (key, [Alert | Fill | ...]) from a stage ─► Alert only ─► AlertSink

A stage running in its own process publishes its alerts on ``pf.alerts`` and
one relay process posts them, so the stages need no Alertmanager address and
an Alertmanager outage never slows a stage: ``pairflow run execution``
publishes there. In-process (``demo``, ``trade``) the same sink sits at the
execution stage's end. Either way the sink logs every alert,
keeps it in its outbox until Alertmanager accepted it, and skips an id it has
seen, so a replay after a restart pages no one twice. Storing the rows is the
store sink's job in both modes, not the relay's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source

from flows.decode import DEAD_LETTER_KEY, decode_batch
from pairflow.config import AlertingSettings
from pairflow.events import Alert
from sinks.alerts import AlertSink
from sinks.dead_letter import DeadLetterSink

__all__ = ["relay_dataflow", "route_alerts"]


def _alerts_of(item: tuple[str, list[Any]]) -> list[Alert]:
    return [event for event in item[1] if type(event) is Alert]


def route_alerts(step_id: str, stream: Stream[tuple[str, list[Any]]], settings: AlertingSettings) -> None:
    """Send the `Alert` events among a stage's ``(key, [event, ...])`` items to Alertmanager."""
    # (key, [event]) -> Alert
    alerts = op.flat_map(f"{step_id}_pick", stream, _alerts_of)
    op.output(step_id, alerts, AlertSink.from_settings(settings))


def relay_dataflow(settings: AlertingSettings, source: Source) -> Dataflow:
    """Return the relay: raw ``pf.alerts`` records from ``source`` posted to Alertmanager.

    Records that are not valid alerts are logged on one line and kept under
    ``outbox_dir/dead-letters``; they never stop the relay.
    """
    flow = Dataflow("alerts_relay")
    # (topic, payload, partition, offset)
    raw = op.input("pf_alerts", flow, source)
    # (key, [Alert]) or (DEAD_LETTER_KEY, [DeadLetter])
    decoded = op.flat_map_batch("decode", raw, decode_batch)
    valid = op.branch("split_dead_letters", decoded, lambda item: item[0] != DEAD_LETTER_KEY)
    op.output("dead_letters", valid.falses, DeadLetterSink(Path(settings.outbox_dir) / "dead-letters"))
    route_alerts("alertmanager", valid.trues, settings)
    return flow
