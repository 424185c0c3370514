"""Typed events that flow through pairflow.

Every record that crosses a process boundary (a Redpanda topic, a ClickHouse
table, the API) is one of these frozen msgspec Structs. Conventions:

* ``ts`` is exchange (event) time and ``recv_ts`` local receive time, both in
  integer milliseconds since the epoch — Hyperliquid's native unit.
* ``id`` is stable for a given real-world event, so an at-least-once replay can
  be deduplicated (ClickHouse ReplacingMergeTree keys on it).
* Prices and sizes are ``float``. Hyperliquid prices carry at most five
  significant figures and sizes at most eight decimals, so a float64 holds them
  exactly through ``repr``; the venue keeps its own accounting in Decimal.
* ``coin`` (or ``pair`` for pair-level events) is the partition key.

Field names match the ClickHouse column names in ``infra/clickhouse/``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Side = Literal["B", "A"]

# The end of the event times a record may carry (2100-01-01). A ts past it (garbage, or microseconds) or not
# positive would move a coin's event time there or before everything: the decoder refuses such a record
# (`flows.decode`) and the event-time merge does not order by it (`sources.time_ordered_source`), so one bad
# stamp neither freezes a coin nor waits behind every real record.
LAST_TS_MS = 4_102_444_800_000


def ts_problem(ts: int) -> str | None:
    """Return why ``ts`` cannot be an event's time (see `LAST_TS_MS`), or None when it can.

    Examples
    --------
    >>> ts_problem(1_750_000_000_000) is None
    True
    >>> ts_problem(1_750_000_000_000_000)
    'ts must be an epoch in milliseconds before 2100 (received 1750000000000000)'
    """
    if ts <= 0:
        return f"ts must be a positive epoch in milliseconds (received {ts})"
    if ts >= LAST_TS_MS:
        return f"ts must be an epoch in milliseconds before 2100 (received {ts})"
    return None


class Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of every pairflow event.

    ``gc=False``: events hold only scalars and tuples of levels, never
    reference cycles, so the cyclic garbage collector need not track the
    millions of them a flow allocates (it otherwise dominates decode time).
    """

    ts: int
    recv_ts: int = 0


class Trade(Event, frozen=True, kw_only=True):
    """One print on the tape; ``side`` is the aggressor (B = buy, A = sell)."""

    id: str
    coin: str
    px: float
    sz: float
    side: Side
    tid: int = 0
    hash: str = ""


class BookLevel(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One aggregated price level: price, size and number of orders."""

    px: float
    sz: float
    n: int = 0


class L2Book(Event, frozen=True, kw_only=True):
    """A full L2 snapshot; bids best-first, asks best-first."""

    id: str
    coin: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


class Bbo(Event, frozen=True, kw_only=True):
    """Best bid and offer; a side is ``None`` when that side of the book is empty."""

    id: str
    coin: str
    bid_px: float | None
    bid_sz: float | None
    ask_px: float | None
    ask_sz: float | None


class Candle(Event, frozen=True, kw_only=True):
    """An exchange candle; ``ts`` is the open time and ``close_ts`` the last ms it covers."""

    id: str
    coin: str
    interval: str
    close_ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


class Bar(Event, frozen=True, kw_only=True):
    """A bar derived from trades by pairflow; ``ts`` is the bar open time.

    ``incomplete``: the bar overlaps an unfilled trade gap, so trades of its
    window may be missing and its counts and prices may be wrong.
    """

    id: str
    coin: str
    interval: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    notional: float
    vwap: float
    trades: int
    buy_volume: float
    sell_volume: float
    incomplete: bool = False


class BookSnapshot(Event, frozen=True, kw_only=True):
    """Top-N book levels sampled at a fixed cadence, with spread and imbalance."""

    id: str
    coin: str
    bid_px: tuple[float, ...]
    bid_sz: tuple[float, ...]
    ask_px: tuple[float, ...]
    ask_sz: tuple[float, ...]
    mid: float | None
    spread_bps: float | None
    imbalance: float | None


class Funding(Event, frozen=True, kw_only=True):
    """An hourly funding rate as charged (positive: longs pay shorts)."""

    id: str
    coin: str
    rate: float
    premium: float | None = None


class AssetContext(Event, frozen=True, kw_only=True):
    """Per-asset context: mark, oracle, mid, open interest, premium and funding."""

    id: str
    coin: str
    mark_px: float
    oracle_px: float
    mid_px: float | None
    open_interest: float
    funding: float
    premium: float | None
    day_ntl_vlm: float
    prev_day_px: float


class FeeSchedule(Event, frozen=True, kw_only=True):
    """Effective fee rates (fractions, negative = rebate); spot rates are ``None`` when not published."""

    id: str
    coin: str = "*"
    taker: float
    maker: float
    spot_taker: float | None = None
    spot_maker: float | None = None


class Delisting(Event, frozen=True, kw_only=True):
    """A collected coin the exchange's ``meta`` now marks delisted: spreads with it as a leg go flat and stop."""

    id: str
    coin: str


class StrategyParams(Event, frozen=True, kw_only=True):
    """An operator's change of strategy parameters (``POST /api/controls/params``); None leaves one as it is.

    On ``pf.params`` it reaches strategies running as their own processes,
    which take it at its event time; the API validated it first.
    """

    id: str
    entry_z: float | None = None
    exit_z: float | None = None
    stop_z: float | None = None
    notional_usd: float | None = None


class PairStats(Event, frozen=True, kw_only=True):
    """Statistics of one candidate spread (a pair or a Johansen basket) from a pair scan.

    The spread is ``sum(weights[i] * log price of coins[i]) - intercept``
    with ``weights[0] = 1``; for a pair ``coin_a`` is the dependent leg of the
    reported Engle-Granger direction and ``hedge_ratio = -weights[1]``. The
    ``*_reverse`` fields are the other direction; Johansen values are for
    "no relation" (r = 0) with the critical value the verdict used (95 % for
    a pair, 99 % for a basket). ``eg_pvalue`` is None for a basket, which
    Johansen alone tests (JSON has no NaN, and the record travels on
    ``pf.pair_stats``). ``accepted`` is the verdict and ``reason``
    says why not; ``parameters`` is the scan's configuration as JSON.
    """

    id: str
    pair: str
    coin_a: str
    coin_b: str
    window_start: int
    window_end: int
    correlation: float
    hedge_ratio: float
    eg_pvalue: float | None
    johansen_trace: float | None = None
    half_life: float | None = None
    hurst: float | None = None
    qvalue: float | None = None
    cluster: int | None = None
    rank: int | None = None
    scan_id: str = ""
    kind: str = "pair"
    coins: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    intercept: float = 0.0
    interval: str = ""
    observations: int = 0
    eg_statistic: float | None = None
    eg_statistic_reverse: float | None = None
    eg_pvalue_reverse: float | None = None
    johansen_trace_critical: float | None = None
    johansen_max_eigen: float | None = None
    johansen_max_eigen_critical: float | None = None
    johansen_rank: int | None = None
    crossings: int | None = None
    qvalue_reverse: float | None = None
    accepted: bool = False
    reason: str = ""
    parameters: str = ""


class Signal(Event, frozen=True, kw_only=True):
    """A strategy decision for one spread at one time.

    ``target`` is the spread position as a signed fraction of the configured
    notional (+1 long the first leg against the others, -1 short, 0 flat;
    between when a model sizes it); ``leg_targets`` is the same decision as a
    signed size in coins per leg, in ``legs`` order. ``hedge_ratios`` are the
    Kalman ratios of legs 2..N (``hedge_ratio`` repeats the first, the pair
    case). ``features`` are the inputs the rule and the models saw, and
    ``model_versions`` name the state of every model that took part, so a
    decision can be explained and replayed.
    """

    id: str
    pair: str
    hedge_ratio: float
    spread: float
    zscore: float
    target: float
    reason: str = ""
    legs: tuple[str, ...] = ()
    hedge_ratios: tuple[float, ...] = ()
    leg_targets: tuple[float, ...] = ()
    features: dict[str, float] = {}
    model_versions: dict[str, str] = {}


class OrderIntent(Event, frozen=True, kw_only=True):
    """A desired order for one coin, before risk checks and routing."""

    id: str
    coin: str
    pair: str = ""
    signal_id: str = ""
    is_buy: bool
    sz: float
    limit_px: float
    tif: Literal["Gtc", "Ioc", "Alo"] = "Ioc"
    reduce_only: bool = False


class Order(Event, frozen=True, kw_only=True):
    """An order as known to the exchange, one record per status change."""

    id: str
    coin: str
    cloid: str
    oid: int | None
    is_buy: bool
    sz: float
    limit_px: float
    status: str
    filled_sz: float = 0.0
    avg_px: float | None = None
    reason: str = ""


class Fill(Event, frozen=True, kw_only=True):
    """One execution of one of our orders."""

    id: str
    coin: str
    oid: int
    cloid: str = ""
    px: float
    sz: float
    side: Side
    fee: float
    closed_pnl: float
    crossed: bool
    start_position: float = 0.0


class FundingPayment(Event, frozen=True, kw_only=True):
    """One hourly funding payment on one of our positions (``usdc`` > 0 received, < 0 paid)."""

    id: str
    coin: str
    usdc: float
    szi: float
    rate: float


class Pnl(Event, frozen=True, kw_only=True):
    """PnL of one scope (``portfolio``, ``coin:ETH``, ``spread:ETH/BTC``) from fills and funding, never balances.

    ``realized_pnl`` is before fees and funding, which are reported apart
    (fees as a positive cost, funding signed as received); ``equity`` is
    realised + unrealised - fees + funding.
    """

    id: str
    scope: str
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    funding: float
    equity: float


class Position(Event, frozen=True, kw_only=True):
    """Signed position of one coin (positive = long)."""

    id: str
    coin: str
    szi: float
    entry_px: float
    mark_px: float
    unrealized_pnl: float
    margin_used: float
    leverage: float


class RiskMetric(Event, frozen=True, kw_only=True):
    """A portfolio risk figure, e.g. ``var_hist`` at 0.99 over a horizon."""

    id: str
    metric: str
    value: float
    confidence: float | None = None
    horizon: str = ""
    scope: str = "portfolio"


class Alert(Event, frozen=True, kw_only=True):
    """Something an operator must see."""

    id: str
    severity: Literal["info", "warning", "critical"]
    source: str
    message: str
    coin: str = ""


class Gap(Event, frozen=True, kw_only=True):
    """A span of a stream that was missed and could not (or could) be backfilled."""

    id: str
    coin: str
    stream: str
    start_ts: int
    end_ts: int
    filled: bool
    reason: str = ""


class LogRecord(Event, frozen=True, kw_only=True):
    """A structured log line mirrored into ClickHouse."""

    id: str
    level: str
    logger: str
    message: str
    fields: str = "{}"


TOPIC_OF: dict[type[Event], str] = {
    Trade: "md.trades",
    L2Book: "md.l2",
    Bbo: "md.bbo",
    Candle: "md.candles",
    Funding: "md.funding",
    AssetContext: "md.ctx",
    FeeSchedule: "md.fees",
    Delisting: "md.delistings",
    Gap: "md.gaps",
    Bar: "md.bars",
    BookSnapshot: "md.books",
    PairStats: "pf.pair_stats",
    StrategyParams: "pf.params",
    Signal: "pf.signals",
    OrderIntent: "pf.intents",
    Order: "pf.orders",
    Fill: "pf.fills",
    FundingPayment: "pf.funding_payments",
    Pnl: "pf.pnl",
    Position: "pf.positions",
    RiskMetric: "pf.risk",
    Alert: "pf.alerts",
}

# One event type per topic, so a reader decodes a topic without guessing.
EVENT_OF_TOPIC: dict[str, type[Event]] = {topic: cls for cls, topic in TOPIC_OF.items()}

# md.bars and md.books are derived by the ingest flow (from md.trades and md.l2); the rest is what
# collectors publish.
DERIVED_MARKET_TOPICS: tuple[str, ...] = (TOPIC_OF[Bar], TOPIC_OF[BookSnapshot])
MARKET_TOPICS: tuple[str, ...] = tuple(
    t for t in EVENT_OF_TOPIC if t.startswith("md.") and t not in DERIVED_MARKET_TOPICS
)

_encoder = msgspec.json.Encoder()
_decoders: dict[type, msgspec.json.Decoder] = {}


def encode(event: Event) -> bytes:
    """Serialise an event to compact JSON bytes."""
    return _encoder.encode(event)


def decoder(type_: type[Event]) -> msgspec.json.Decoder:
    """Return the shared JSON decoder for ``type_`` (built once per type)."""
    found = _decoders.get(type_)
    if found is None:
        found = _decoders[type_] = msgspec.json.Decoder(type_)
    return found


def decode(data: bytes | str, type_: type[Event]) -> Event:
    """Decode JSON bytes into ``type_``; raises ``msgspec.ValidationError`` naming the bad field."""
    return decoder(type_).decode(data)


def decode_topic(topic: str, data: bytes | str) -> Event:
    """Decode a message read from ``topic``."""
    return decode(data, EVENT_OF_TOPIC[topic])


def key_of(event: Event) -> str:
    """Return the partition key of an event: its coin, pair, or metric scope."""
    for attr in ("coin", "pair", "scope"):
        value = getattr(event, attr, None)
        if value:
            return value
    return ""


class Reconnected(msgspec.Struct, frozen=True):
    """The account's stream (re)connected at ``ts``: reconcile over REST before trusting the books.

    A cue, not a record: it is never stored or published. Fills sent while the
    socket was down are not replayed by the stream, so only a REST pull recovers them.
    """

    ts: int
    attempt: int


class Disconnected(msgspec.Struct, frozen=True):
    """The account's stream lost its connection at ``ts``: fills now come only from REST until it is back.

    A cue, not a record, like `Reconnected`.
    """

    ts: int
    reason: str = ""
