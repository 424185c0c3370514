"""Decode and validate raw market-data records; turn bad ones into dead letters.

Input items are what the ingest sources produce: ``(topic, payload,
partition, offset)`` where the payload is JSON bytes (Kafka) or an already
typed event (the in-process queue, which has no partition or offset).
Output items are ``(coin, [event, ...])`` for good records and
``(DEAD_LETTER_KEY, [DeadLetter, ...])`` for records that could not be used. A bad
record never stops the flow: it is counted, logged with its raw text and
routed to the dead-letter output. A reader's `sources.progress.ReadProgress`
records come out as ``(PROGRESS_KEY, [ReadProgress, ...])``, in their order.

Time comes from the injected `pairflow.clock.Clock`: it stamps dead letters,
and it observes the event time of every valid record, so an event-time clock
(replay) advances with the data while a wall clock ignores it.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import msgspec

from operators.netting import MAX_LEG_SIZE
from pairflow import events
from pairflow.clock import WALL_CLOCK, Clock
from pairflow.logs import get_logger
from pairflow.metrics import INGEST_MALFORMED, INGEST_MESSAGES_IN
from sources.progress import PROGRESS_KEY, ReadProgress

__all__ = ["DEAD_LETTER_KEY", "DeadLetter", "dead_letter", "decode_batch", "problem_with"]

DEAD_LETTER_KEY = "dead-letter"
_RAW_SHOWN = 2_000

log = get_logger(__name__)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A record the ingest flow rejected, with where it came from and why."""

    topic: str
    raw: str
    error: str
    recv_ts: int
    partition: int | None = None
    offset: int | None = None


_DECODERS = {topic: events.decoder(type_) for topic, type_ in events.EVENT_OF_TOPIC.items()}
_INF = math.inf


def _common_problem(event: events.Event) -> str | None:
    # One record stamped far ahead would move a coin's event time there: every later bar of the coin would then
    # be refused as out of order by the strategy, and ingest would close its bars on it.
    problem = events.ts_problem(event.ts)
    if problem is not None:
        return problem
    if not getattr(event, "id", "x"):
        return "id must not be empty"
    if not getattr(event, "coin", "x") and _coin_required(type(event)):
        return "coin must not be empty"
    return None


@functools.cache
def _coin_required(kind: type) -> bool:
    """Tell whether ``kind`` has a ``coin`` without default (an `Alert` about the whole portfolio names none)."""
    return any(field.name == "coin" and field.required for field in msgspec.structs.fields(kind))


def _trade_problem(trade: events.Trade) -> str | None:
    if (0.0 < trade.px < _INF and 0.0 < trade.sz < _INF and 0 < trade.ts < events.LAST_TS_MS
            and trade.id and trade.coin):
        return None
    if not 0.0 < trade.px < _INF:
        return f"px must be a positive number (received {trade.px})"
    if not 0.0 < trade.sz < _INF:
        return f"sz must be a positive number (received {trade.sz})"
    return _common_problem(trade)


def _book_problem(book: events.L2Book) -> str | None:
    for side, levels in (("bids", book.bids), ("asks", book.asks)):
        for level in levels:
            if not (0.0 < level.px < _INF and 0.0 <= level.sz < _INF):
                return f"{side} level {level.px}@{level.sz} must have a positive px and a non-negative sz"
    return _common_problem(book)


def _candle_problem(candle: events.Candle) -> str | None:
    if not (-_INF < candle.low <= candle.high < _INF):
        return f"candle low {candle.low} must not exceed high {candle.high}"
    return _common_problem(candle)


def _bar_problem(bar: events.Bar) -> str | None:
    for name in ("open", "high", "low", "close"):
        price = getattr(bar, name)
        if not 0.0 < price < _INF:
            return f"bar {name} must be a positive number (received {price})"
    if bar.low > bar.high:
        return f"bar low {bar.low} must not exceed high {bar.high}"
    for name in ("volume", "notional", "vwap", "buy_volume", "sell_volume"):
        value = getattr(bar, name)
        if not 0.0 <= value < _INF:
            return f"bar {name} must be a non-negative number (received {value})"
    return _common_problem(bar)


def _signal_problem(signal: events.Signal) -> str | None:
    if not -_INF < signal.target < _INF:
        return f"signal target must be a finite number (received {signal.target})"
    if len(signal.leg_targets) != len(signal.legs):
        return f"signal has {len(signal.leg_targets)} leg targets for {len(signal.legs)} legs"
    for coin, size in zip(signal.legs, signal.leg_targets):
        if not -MAX_LEG_SIZE < size < MAX_LEG_SIZE:
            return f"signal leg target of {coin} must be a finite size under 2**53 (received {size})"
    return _common_problem(signal)


# What each topic's consumer relies on beyond the schema: a Bar or Signal that decodes but carries a NaN,
# an infinite or a negative price would otherwise reach the strategy's state, the desk's sizing (where an
# infinite size raised and stopped the execution stage) and the store.
_PROBLEMS = {
    events.Trade: _trade_problem, events.L2Book: _book_problem, events.Candle: _candle_problem,
    events.Bar: _bar_problem, events.Signal: _signal_problem,
}


def problem_with(event: events.Event) -> str | None:
    """Return why a decoded event cannot be used, or None when it is valid.

    Examples
    --------
    >>> problem_with(events.Trade(id="1", coin="BTC", ts=1, px=float("nan"), sz=1.0, side="B"))
    'px must be a positive number (received nan)'
    """
    return _PROBLEMS.get(type(event), _common_problem)(event)


def dead_letter(
    topic: str, raw: Any, error: str, partition: int | None, offset: int | None, clock: Clock
) -> DeadLetter:
    """Count, log and return the dead letter of a record rejected for ``error`` (stamped with ``clock``)."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="replace")
    elif isinstance(raw, msgspec.Struct):
        text = events.encode(raw).decode()
    else:
        text = repr(raw)
    INGEST_MALFORMED.labels(topic).inc()
    log.warning("malformed record", topic=topic, partition=partition, offset=offset, error=error, raw=text[:_RAW_SHOWN])
    return DeadLetter(
        topic=topic,
        raw=text,
        error=error,
        recv_ts=clock.now_ms(),
        partition=partition,
        offset=offset,
    )


def decode_batch(
    items: Iterable[tuple[str, Any, int | None, int | None]], clock: Clock = WALL_CLOCK, one_group: str | None = None,
) -> list[tuple[str, list[Any]]]:
    """Decode ``(topic, payload, partition, offset)`` records, grouped as ``(coin, [event, ...])``.

    Rejected records come out as ``(DEAD_LETTER_KEY, [DeadLetter, ...])``, stamped
    with ``clock``; the clock then observes the newest valid event time. Grouping
    per key keeps Bytewax's per-item routing cost per batch instead of per event.
    With ``one_group`` every valid event goes in one group of that key, in record
    order: grouping by coin would lose the order across coins, which a consumer
    of a time-ordered source (the strategy) must keep, or its result would depend
    on where the batches happened to be cut.
    """
    groups: dict[str, list[Any]] = defaultdict(list)
    counts: dict[str, int] = {}
    problems = _PROBLEMS
    newest = 0
    # Records come in runs of one topic and one event type (a partition's batch): the decoder, the count and
    # the check are looked up once per run, not per record.
    topic_run = decoder = kind = check = None
    run = 0
    for topic, payload, partition, offset in items:
        payload_type = type(payload)
        if payload_type is ReadProgress:
            groups[PROGRESS_KEY].append(payload)
            continue
        if topic != topic_run:
            if run:
                counts[topic_run] = counts.get(topic_run, 0) + run
            topic_run, decoder, run = topic, _DECODERS.get(topic), 0
        run += 1
        if payload_type is bytes:
            if decoder is None:
                reason = f"topic {topic} is not a market-data topic"
                groups[DEAD_LETTER_KEY].append(dead_letter(topic, payload, reason, partition, offset, clock))
                continue
            try:
                event = decoder.decode(payload)
            except msgspec.DecodeError as error:
                groups[DEAD_LETTER_KEY].append(dead_letter(topic, payload, str(error), partition, offset, clock))
                continue
        elif isinstance(payload, events.Event):
            event = payload
        else:
            reason = f"payload was a {payload_type.__name__}, not bytes or an event"
            groups[DEAD_LETTER_KEY].append(dead_letter(topic, payload, reason, partition, offset, clock))
            continue
        if type(event) is not kind:
            kind = type(event)
            check = problems.get(kind, _common_problem)
        reason = check(event)
        if reason is not None:
            groups[DEAD_LETTER_KEY].append(dead_letter(topic, payload, reason, partition, offset, clock))
            continue
        ts = event.ts
        if ts > newest:
            newest = ts
        groups[one_group or getattr(event, "coin", None) or events.key_of(event)].append(event)
    if run:
        counts[topic_run] = counts.get(topic_run, 0) + run
    clock.observe(newest)
    for topic, count in counts.items():
        INGEST_MESSAGES_IN.labels(topic).inc(count)
    return list(groups.items())
