"""Limits and sentinels shared by the engine modules."""

DAY_MS = 86_400_000
MAX_USER_ROWS = 2000
"""userFills / historicalOrders return at most this many rows."""
MAX_TIME_ROWS = 500
"""Time-range queries return at most this many rows."""
RECENT_TRADES = 1000
ORACLE_BAND = (4, 5)
"""Orders more than 4/5 (80%) away from the reference price are refused."""
INITIAL_REQUESTS = 10_000
SCHEDULE_MIN_DELAY_MS = 5_000
MAX_SCHEDULED_CANCELS_PER_DAY = 10
DEFAULT_LEVERAGE = 20
FIRST_OID = 1_000_000
SPOT_ASSET_OFFSET = 10_000
OPEN = "open"
DIRTY = -1
"""Marks-cache sentinel: the mark of that asset must be recomputed (real marks are positive or None)."""
BAD_PRICE = -1
BAD_TICK = -2
BAD_SIZE = -1
PARSE_CACHE_LIMIT = 200_000
ORDER_RETENTION = 10_000
"""Finished orders kept per account (order_status/historicalOrders); older ones are forgotten."""
FILL_RETENTION = 10_000
"""Fills kept per account (userFills returns at most 2000)."""
PERP_BUILDER_FEE_CAP = 100
"""Highest builder fee on a perp fill, in tenths of a basis point (0.1%)."""
MAX_APPROVED_BUILDER_FEE = 1000
"""Highest rate a user may approve for a builder, in tenths of a basis point (1%, the spot cap)."""
BUILDER_MIN_ACCOUNT_VALUE = 100_000_000
"""A builder must hold 100 USDC of perp account value (micro-USDC) to be approved."""
POST_ONLY_MODE_ERROR = "Only post-only orders are allowed while this market is in post-only mode. asset={asset}"
# ^ the venue's own wording (the exchange's text for this state is not recorded); the router matches "only post-only"
