"""Typed configuration: a TOML file plus ``PAIRFLOW_*`` environment overrides.

Precedence (highest first): keyword arguments to `Settings`, environment
variables (``PAIRFLOW_<SECTION>__<FIELD>``, e.g. ``PAIRFLOW_STORAGE__DSN``),
the TOML file, then the defaults below. Every section forbids unknown keys so
a typo in the file fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pairflow.config_env import CommaListEnvSource, check_environment
from pairflow.errors import ConfigError
from pairflow.market_defaults import (
    BOOK_LEVELS, GROUP_HALF_LIFE_S, GROUP_SPREAD_STD, HALF_SPREAD_BPS, IDIO_VOL, MARKET_VOL, MAX_BOOK_LEVELS,
    TAKER_MEDIAN_NOTIONAL, TAKER_RATE_PER_MINUTE,
)
from pairflow.redaction import REDACTED, is_secret_name, redact_url_passwords

__all__ = [
    "AlertingSettings",
    "ApiSettings",
    "BrokerSettings",
    "CollectorSettings",
    "ExecutionSettings",
    "DEFAULT_CONFIG_FILE",
    "LoggingSettings",
    "MetricsSettings",
    "SecretSettings",
    "Settings",
    "StorageSettings",
    "StrategySettings",
    "VenueGroupSettings",
    "VenueSettings",
    "config_error_from",
    "load_settings",
    "resolve_config_path",
    "with_changes",
]

DEFAULT_CONFIG_FILE = Path("pairflow.toml")
CONFIG_PATH_ENV = "PAIRFLOW_CONFIG"

_FILE_VALUES: ContextVar[dict[str, Any]] = ContextVar("pairflow_file_values", default={})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


SectionT = TypeVar("SectionT", bound=_Section)


class StorageSettings(_Section):
    """Where and how events are stored (ClickHouse server or embedded chDB)."""

    dsn: str = Field(
        default="chdb:///./data/chdb",
        description=(
            "Store address: 'chdb:///<dir>' for embedded chDB (the default, no server needed) or "
            "'http(s)://user:pass@host:8123/db' for a ClickHouse server."
        ),
    )
    password: SecretStr | None = Field(
        default=None,
        description="ClickHouse server password; overrides any password in the DSN and is never printed.",
    )
    spill_dir: Path = Field(
        default=Path("./data/spill"),
        description="Directory where batches are saved while the store is unreachable; replayed on recovery.",
    )
    batch_max_rows: int = Field(
        default=100_000, gt=0, description="Flush a writer's buffer once it holds this many rows."
    )
    batch_max_age_s: float = Field(
        default=1.0, gt=0, description="Flush a writer's buffer once its oldest row is this many seconds old."
    )
    buffer_max_rows: int = Field(
        default=2_000_000,
        gt=0,
        description=(
            "Most rows a writer keeps in memory (buffer plus unsaved batches); beyond it add() raises (backpressure)."
        ),
    )
    retry_attempts: int = Field(
        default=3, ge=0, description="Retries of a failed insert before the batch is spilled to disk."
    )
    retry_backoff_s: float = Field(
        default=0.05, ge=0, description="First retry delay in seconds; doubles on each further retry."
    )
    retry_backoff_max_s: float = Field(
        default=2.0, ge=0, description="Upper bound for a single retry delay, in seconds."
    )

    @field_validator("dsn")
    @classmethod
    def _check_dsn(cls, value: str) -> str:
        if not value.startswith(("chdb://", "http://", "https://")):
            raise ValueError("must start with 'chdb://', 'http://' or 'https://'")
        return value


class BrokerSettings(_Section):
    """Kafka-protocol broker (Redpanda, or tansu in tests) used between processes."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of brokers to bootstrap from."
    )
    partitions: int = Field(default=3, gt=0, description="Partitions per topic; Bytewax workers scale with it.")
    replication_factor: int = Field(default=1, gt=0, description="Replicas per topic partition when creating topics.")
    client_id: str = Field(default="pairflow", min_length=1, description="Client id reported to the broker.")
    max_buffered_messages: int = Field(
        default=100_000,
        gt=0,
        description="Most unacknowledged messages a producer holds; producing beyond it blocks (backpressure).",
    )
    delivery_timeout_ms: int = Field(
        default=30_000,
        gt=0,
        description="Time a message may wait for the broker before the producer is rebuilt and the message re-sent.",
    )
    linger_ms: int = Field(default=5, ge=0, description="Producer batching delay in milliseconds.")


class VenueGroupSettings(_Section):
    """One cointegrated group of the synthetic market."""

    coins: list[str] = Field(min_length=2, description="Member coins, at least two.")
    betas: list[float] = Field(
        default_factory=list, description="Loading of each coin on the group factor; empty = 1.0 for all."
    )


class VenueSettings(_Section):
    """The local exchange that speaks the Hyperliquid API (paper and demo modes)."""

    host: str = Field(default="127.0.0.1", description="Interface the venue's HTTP/WebSocket server binds to.")
    port: int = Field(default=8090, ge=0, le=65535, description="Venue port; 0 picks a free port.")
    seed: int = Field(default=7, description="Random seed of the synthetic market, for reproducible runs.")
    speed: float = Field(default=1.0, gt=0, description="Market clock speed-up factor (1.0 = real time).")
    start: AwareDatetime | None = Field(
        default=None,
        description="Market time a fresh venue starts at (ISO 8601 with a zone, e.g. 2026-01-05T09:55:00Z); "
                    "unset = now. A venue continuing from a snapshot keeps its own time.",
    )
    data_dir: Path | None = Field(
        default=Path("./data/venue"),
        description="Directory holding venue snapshots; none (`venue serve --ephemeral`) keeps all state in memory.",
    )
    market: Literal["synthetic", "replay"] = Field(
        default="synthetic",
        description="Market driver: 'synthetic' (seeded factor model with cointegrated groups) or 'replay' (recorded candles).",
    )
    replay_from: str | None = Field(
        default=None,
        description=(
            "Replay source: a directory holding perp_1h_ohlcv_*.csv (+ perp_funding_1h_*.csv), one candle CSV file, "
            "or 'store' for the candles/funding tables of the configured storage."
        ),
    )
    fund: dict[str, float] = Field(
        default_factory=dict, description="Accounts funded at first start: address -> USDC in the perp account."
    )
    universe_file: Path | None = Field(
        default=None,
        description="JSON universe ({\"universe\": [{name, szDecimals, maxLeverage, referencePx}]}); unset = the shipped 18 coins.",
    )
    step_ms: int = Field(default=250, gt=0, description="Simulated milliseconds between market-driver steps.")
    snapshot_interval_s: float = Field(
        default=30.0, gt=0, description="Wall seconds between state snapshots in data_dir (also saved on shutdown)."
    )
    groups: list[VenueGroupSettings] | None = Field(
        default=None,
        description="Cointegrated coin groups of the synthetic market; unset = ETH/SOL/AVAX and AAVE/UNI/LINK, [] = none.",
    )
    half_life_s: float = Field(default=GROUP_HALF_LIFE_S, gt=0, description="Half-life of each group member's OU spread, simulated seconds.")
    spread_std: float = Field(default=GROUP_SPREAD_STD, ge=0, description="Stationary std of each member's spread (log-price units).")
    market_vol: float = Field(default=MARKET_VOL, ge=0, description="Volatility of the market factor per sqrt(hour).")
    idio_vol: float = Field(default=IDIO_VOL, ge=0, description="Volatility of each non-group coin's own walk per sqrt(hour).")
    trade_rate_per_minute: float = Field(
        default=TAKER_RATE_PER_MINUTE, ge=0, description="Mean taker orders per coin per simulated minute (Poisson arrivals)."
    )
    taker_median_notional: float = Field(default=TAKER_MEDIAN_NOTIONAL, gt=0, description="Median USD notional of a taker order.")
    book_levels: int = Field(default=BOOK_LEVELS, ge=1, le=MAX_BOOK_LEVELS, description="Maker price levels per side of each book.")
    book_every_step: bool = Field(
        default=False,
        description="Push l2Book (and changed activeAssetCtx) after every market step (each simulated block, stamped "
                    "with its time) instead of every 0.5 wall seconds, so a collector records every book an order "
                    "could meet and the oracle each hour's funding settled at.",
    )
    half_spread_bps: float = Field(
        default=HALF_SPREAD_BPS, gt=0, description="Least distance of the makers' best quotes from fair value, basis points."
    )


class CollectorSettings(_Section):
    """Hyperliquid market-data collector (WebSocket streams plus REST backfill)."""

    url: str = Field(
        default="mainnet",
        description="API to collect from: 'mainnet', 'testnet', or an explicit http(s):// base URL (e.g. the local venue).",
    )
    coins: list[str] = Field(
        default_factory=list, description="Coins to collect; empty means the top_n coins by 24h notional volume."
    )
    top_n: int = Field(default=10, gt=0, description="How many coins to pick when 'coins' is empty.")
    candle_interval: Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d"] = Field(
        default="1m", description="Candle interval to subscribe to and backfill."
    )
    book_levels: int = Field(default=10, gt=0, le=20, description="Order-book levels kept per side in l2 snapshots.")
    book_interval_ms: int = Field(
        default=1_000, ge=0,
        description="Event-time cadence of the stored l2 snapshots; 0 stores every book received, at its own time.",
    )
    stale_after_s: float = Field(
        default=15.0, gt=0, description="Seconds without a message after which a stream is reported stale and resubscribed."
    )
    backfill_hours: int = Field(default=24, ge=0, description="Hours of candles and funding to backfill over REST at start.")
    ping_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between WebSocket keepalive pings; keep it below stale_after_s."
    )
    reconnect_backoff_s: float = Field(
        default=0.5, gt=0, description="First delay before reconnecting the WebSocket; doubles per failed attempt."
    )
    reconnect_backoff_max_s: float = Field(default=30.0, gt=0, description="Upper bound of the reconnect delay.")
    ctx_poll_s: float = Field(default=60.0, gt=0, description="Seconds between REST metaAndAssetCtxs polls (md.ctx).")
    funding_poll_s: float = Field(default=300.0, gt=0, description="Seconds between REST fundingHistory polls (md.funding).")
    fees_poll_s: float = Field(default=3600.0, gt=0, description="Seconds between REST userFees polls (md.fees).")
    fee_user: str | None = Field(
        default=None, description="Address whose fee schedule is collected; none means the public base-tier schedule."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value not in ("mainnet", "testnet") and not value.startswith(("http://", "https://")):
            raise ValueError("must be 'mainnet', 'testnet' or an http(s):// URL")
        return value

    @field_validator("coins")
    @classmethod
    def _check_coins(cls, value: list[str]) -> list[str]:
        for coin in value:
            if not coin.strip():
                raise ValueError("coin names must not be empty")
        return value


class StrategySettings(_Section):
    """The strategy stage: which spreads to trade and how each decides (rule, features, River models)."""

    universe: Literal["pair_stats", "config"] = Field(
        default="pair_stats",
        description="Spreads to trade: the latest accepted scan in 'pair_stats' (falls back to 'pairs' when none), or 'pairs' only.",
    )
    pairs: list[str] = Field(
        default_factory=list,
        description="Spreads as coins joined by '/', first leg explained by the others, e.g. 'ETH/SOL' or 'AAVE/UNI/LINK'.",
    )
    bar_interval: str = Field(default="1m", description="Bar interval the strategy reads ('1s', '1m', ...).")
    staleness_ms: int = Field(
        default=180_000, gt=0, description="Largest age of a leg's last bar behind the newest leg before the spread pauses."
    )
    max_gap_ms: int = Field(
        default=600_000, gt=0, description="Time between two aligned rows beyond which the row is refused as a gap."
    )
    reorder_ms: int = Field(
        default=0,
        ge=0,
        description=(
            "Hold a leg's bars up to this much event time for the other legs, so bars read from topic partitions "
            "at different paces align in time order (distributed mode); a quiet leg delays rows this much. 0 = off."
        ),
    )
    kalman_delta: float = Field(
        default=1e-7, gt=0, lt=1, description="Kalman transition noise Vw = delta/(1-delta)*I on (log-price) hedge ratios."
    )
    kalman_observation_variance: float = Field(
        default=1e-5, gt=0, description="Kalman observation noise Ve, in squared log-price units."
    )
    zscore_window: int = Field(default=120, ge=2, description="Rolling window of the spread's z-score, in rows.")
    warmup_rows: int = Field(
        default=60, ge=0, description="Aligned rows a spread must see before it may signal (the filter converges)."
    )
    rule: Literal["zscore", "kalman"] = Field(
        default="zscore",
        description="Entry/exit bands on the spread's z-score, or on the Kalman forecast error e against ±k·sqrt(Q).",
    )
    entry_z: float = Field(default=2.0, gt=0, description="Enter when |z| reaches this band.")
    exit_z: float = Field(default=0.5, ge=0, description="Exit when z comes back inside this band.")
    stop_z: float = Field(default=5.0, gt=0, description="Exit (stop) when |z| reaches this band against the position.")
    notional_usd: float = Field(default=1_000.0, gt=0, description="USD notional of the first leg at full target.")
    taker_fee: float = Field(
        default=0.00045, description="Taker fee rate used until the venue's fee schedule (md.fees) arrives."
    )
    default_half_spread_bps: float = Field(
        default=2.0, ge=0, description="Half-spread assumed for a leg whose book has not been seen yet, basis points."
    )
    heartbeat_rows: int = Field(
        default=5,
        ge=0,
        description=(
            "Also emit a 'hold' signal every this many rows without a change (0 = only changes); with 1m bars the "
            "default keeps a spread from looking silent to the 15-minute no-signal alert."
        ),
    )
    meta_label: bool = Field(default=False, description="Meta-label classifier on triple-barrier outcomes.")
    meta_mode: Literal["gate", "size"] = Field(
        default="gate", description="The meta-label probability gates entries (below meta_threshold) or scales their size."
    )
    meta_threshold: float = Field(default=0.5, ge=0, le=1, description="Least probability of success to enter (gate mode).")
    meta_profit_take: float = Field(default=2.0, gt=0, description="Profit barrier in spread standard deviations.")
    meta_stop: float = Field(default=2.0, gt=0, description="Stop barrier in spread standard deviations.")
    meta_max_hold_ms: int = Field(default=4 * 3_600_000, gt=0, description="Time barrier of a label, milliseconds.")
    meta_warmup: int = Field(default=20, ge=0, description="Labels learned before the probability is used.")
    anomaly_gate: bool = Field(default=False, description="Half-Space Trees block entries on anomalous ticks.")
    anomaly_threshold: float = Field(default=0.85, gt=0, le=1, description="Anomaly score at which entries are blocked.")
    relation_break: bool = Field(default=False, description="ADWIN on the forecast errors retires a spread whose relation broke.")
    break_ratio: float = Field(
        default=4.0, gt=1, description="Rise of the mean squared standardised forecast error across an ADWIN cut that retires a spread."
    )
    bandit: bool = Field(default=False, description="A bandit chooses (entry_z, exit_z) from bandit_grid by realised net PnL.")
    bandit_grid: list[tuple[float, float]] = Field(
        default_factory=lambda: [(1.5, 0.0), (2.0, 0.0), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0)],
        min_length=1,
        description="The bandit's arms: (entry_z, exit_z) pairs.",
    )
    seed: int = Field(default=7, description="Seed of the models' random choices (Half-Space Trees, bandit).")

    @field_validator("pairs")
    @classmethod
    def _check_pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            coins = pair.split("/")
            if len(coins) < 2 or len(set(coins)) != len(coins) or not all(coin.strip() for coin in coins):
                raise ValueError(f"a pair is two or more distinct coins joined by '/', received {pair!r}")
        return value


class MetricsSettings(_Section):
    """Prometheus /metrics endpoint served by every long-running command."""

    port: int = Field(default=0, ge=0, le=65535, description="Port for /metrics; 0 turns the endpoint off.")
    host: str = Field(default="127.0.0.1", description="Interface the /metrics server binds to.")


class AlertingSettings(_Section):
    """Where pairflow's own alerts (pf.alerts: risk breaches, reconciliation, kill switch) are posted."""

    alertmanager_url: str | None = Field(
        default=None, description="Alertmanager base URL, e.g. http://127.0.0.1:9093; unset = alerts are only logged and stored."
    )
    outbox_dir: Path = Field(
        default=Path("./data/alerts"), description="Alerts wait here until Alertmanager accepted them (survives restarts)."
    )
    retry_backoff_max_s: float = Field(default=60.0, gt=0, description="Largest delay between failed posts.")
    min_severity: Literal["info", "warning", "critical"] = Field(
        default="warning", description="Least severity posted to Alertmanager; lower alerts are only logged and stored."
    )


class LoggingSettings(_Section):
    """Structured logs (structlog) to stdout, optionally mirrored into ClickHouse."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Lowest level that is emitted."
    )
    json_output: bool = Field(
        default=True, alias="json", description="Emit one JSON object per line (true) or human-readable lines (false)."
    )
    to_clickhouse: bool = Field(default=False, description="Also write log records into the ClickHouse 'logs' table.")

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class ExecutionSettings(_Section):
    """The execution stage: order type, leg handling, dead-man switch and the inline risk limits."""

    order_type: Literal["ioc", "limit", "post_only", "auto"] = Field(
        default="ioc",
        description="Marketable IOC within slippage_bps of the mark, Gtc at the mark, post-only (Alo), or auto: "
        "per leg from fees, the leg's half-spread and depth, and urgency (closing legs go IOC).",
    )
    maker_edge_bps: float = Field(
        default=5.0, ge=0, description="With order_type auto, rest a leg only when that saves at least this, basis points."
    )
    slippage_bps: float = Field(default=30.0, ge=0, description="Worst price of an IOC leg away from the mark, basis points.")
    leg_timeout_s: float = Field(default=2.0, gt=0, description="Seconds a resting leg may wait for its fill before it is cancelled.")
    dead_man_s: float = Field(default=0.0, ge=0, description="scheduleCancel window re-armed while trading; 0 = off.")
    order_lifetime_s: float = Field(
        default=10.0, gt=0, le=3_600, description="Seconds an order request stays valid (its expiresAfter): the "
        "exchange refuses a copy that arrives later, so a restart re-sends an order it never received only after this."
    )
    journal_fsync: bool = Field(
        default=False, description="Sync the cloid and spread journals to the disk after each line, so an OS crash or "
        "power loss keeps every order sent and the spread change behind it (a killed process keeps them either way); "
        "costs a disk sync per order and per spread change."
    )
    capital_usd: float = Field(default=100_000.0, gt=0, description="Account equity at start, for leverage and VaR (paper).")
    reconcile_interval_s: float = Field(
        default=5.0, gt=0, description="Wall seconds between REST pulls of the account's fills and funding payments "
        "while its user stream (WebSocket) is down."
    )
    max_order_notional: float = Field(default=5_000.0, ge=0, description="Largest notional of one order, USD; 0 = off.")
    max_coin_notional: float = Field(default=10_000.0, ge=0, description="Largest position in one coin, USD; 0 = off.")
    max_gross_notional: float = Field(default=25_000.0, ge=0, description="Largest sum of |positions|, USD; 0 = off.")
    max_net_notional: float = Field(default=10_000.0, ge=0, description="Largest |sum of positions|, USD; 0 = off.")
    max_leverage: float = Field(default=3.0, ge=0, description="Largest gross exposure over equity; 0 = off.")
    price_band: float = Field(default=0.05, ge=0, description="Largest distance of a limit price from the mark (fraction).")
    stale_ms: int = Field(default=30_000, ge=0, description="Oldest market data a coin may be traded on, ms.")
    max_orders_per_minute: int = Field(default=60, ge=0, description="Orders per rolling minute; 0 = off.")
    max_funding_cost: float = Field(
        default=0.002, ge=0, description="Largest funding cost over an 8 h hold as a fraction of notional; 0 = off."
    )
    spread_stop_loss: float = Field(default=250.0, ge=0, description="Close a spread that lost this many USD; 0 = off.")
    time_stop_ms: int = Field(default=6 * 3_600_000, ge=0, description="Close a spread open longer than this, ms; 0 = off.")
    daily_drawdown: float = Field(default=500.0, ge=0, description="Flatten and halt after losing this many USD in a day.")
    max_var_99: float = Field(
        default=1_000.0, ge=0, description="Alert when the historical 99% VaR over the risk horizon exceeds this, USD; 0 = off."
    )


class ApiSettings(_Section):
    """The REST/WebSocket API and the web UI it serves (`pairflow api`, and in-process in the demo)."""

    host: str = Field(default="127.0.0.1", description="Address to listen on; 127.0.0.1 keeps the API local.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on; 0 picks a free one.")
    reads_need_token: bool = Field(
        default=False, description="Also require the token for reads and streams (state changes always need it)."
    )
    token_from_keystore: bool = Field(
        default=False,
        description="Derive the token from the key in secrets.keystore_path (unlocked with "
        "secrets.keystore_passphrase) instead of secrets.api_token or a random one per run.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed cross-origin requests; empty keeps CORS closed."
    )
    tls_cert: Path | None = Field(default=None, description="PEM certificate: serve HTTPS (needs tls_key too).")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    ws_queue_size: int = Field(
        default=256, ge=1, le=100_000, description="Messages a WebSocket client may fall behind before it is disconnected."
    )


class SecretSettings(_Section):
    """Credentials; never printed or logged. Prefer environment variables for these."""

    signing_key: SecretStr | None = Field(
        default=None,
        description="Hex private key of the (agent) wallet that signs orders; prefer a keystore or the env var.",
    )
    keystore_path: Path | None = Field(
        default=None, description="Encrypted eth-account keystore JSON holding the signing key."
    )
    keystore_passphrase: SecretStr | None = Field(default=None, description="Passphrase unlocking keystore_path.")
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token the REST API requires for anything that changes state (at least 16 characters)."
    )


class Settings(BaseSettings):
    """Effective pairflow configuration; build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="PAIRFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    storage: StorageSettings = Field(default_factory=StorageSettings, description="Event storage.")
    broker: BrokerSettings = Field(default_factory=BrokerSettings, description="Kafka-protocol broker.")
    venue: VenueSettings = Field(default_factory=VenueSettings, description="Local Hyperliquid-compatible venue.")
    collector: CollectorSettings = Field(default_factory=CollectorSettings, description="Market-data collector.")
    strategy: StrategySettings = Field(default_factory=StrategySettings, description="Strategy stage.")
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings, description="Execution stage and risk.")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="Prometheus metrics endpoint.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Structured logging.")
    alerting: AlertingSettings = Field(default_factory=AlertingSettings, description="Alertmanager for pf.alerts.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="REST/WebSocket API and web UI.")
    secrets: SecretSettings = Field(default_factory=SecretSettings, description="Credentials (redacted on output).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = InitSettingsSource(settings_cls, init_kwargs=_FILE_VALUES.get())
        return init_settings, CommaListEnvSource(settings_cls), file_source


def resolve_config_path(path: Path | None = None) -> Path | None:
    """Return the config file to read: `path`, else $PAIRFLOW_CONFIG, else ./pairflow.toml if present."""
    if path is not None:
        return Path(path)
    from_env = os.environ.get(CONFIG_PATH_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(path: Path | None = None) -> Settings:
    """Load settings from a TOML file and ``PAIRFLOW_*`` environment overrides.

    Parameters
    ----------
    path
        TOML file to read. When None, use $PAIRFLOW_CONFIG, else ./pairflow.toml
        if it exists, else defaults only.

    Raises
    ------
    ConfigError
        One line naming the file or the field and the reason, e.g.
        ``invalid config: storage.batch_max_rows: Input should be greater than 0 (received -1)``.
    """
    check_environment(Settings, os.environ, "PAIRFLOW_", ignore=(CONFIG_PATH_ENV,))
    resolved = resolve_config_path(path)
    values = _read_toml(resolved) if resolved is not None else {}
    token = _FILE_VALUES.set(values)
    try:
        return Settings()
    except ValidationError as error:
        raise config_error_from(error, source=resolved) from None
    finally:
        _FILE_VALUES.reset(token)


def with_changes(section: SectionT, name: str, **changes: Any) -> SectionT:
    """Return a copy of a settings section with ``changes`` applied, validated like the config file.

    Command-line options override settings through this, so ``--port 70000``
    fails exactly like ``port = 70000`` in the file would; ``name`` is the
    section's name in error messages (``venue.port: ...``).
    """
    try:
        return type(section).model_validate({**section.model_dump(), **changes})
    except ValidationError as error:
        raise config_error_from(error, section=name) from None


def config_error_from(error: ValidationError, source: Path | None = None, section: str | None = None) -> ConfigError:
    """Turn a pydantic ValidationError into a one-line ConfigError naming each bad field."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in ((section,) if section else ()) + tuple(item["loc"])) or "<root>"
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            problems.append(f"{field}: unknown setting")
        elif item["type"] == "missing":
            problems.append(f"{field}: {reason}")
        else:
            shown = REDACTED if is_secret_name(field) else redact_url_passwords(repr(item.get("input")))
            if len(shown) > 60:
                shown = shown[:57] + "..."
            problems.append(f"{field}: {reason} (received {shown})")
    where = f" in {source}" if source is not None else ""
    return ConfigError(f"invalid config{where}: " + "; ".join(problems))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
        return tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} was not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text: save it as UTF-8, as TOML requires") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"config file {path} could not be read: {error.strerror}") from None
