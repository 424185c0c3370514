"""Wire shapes of the engine's typed results: the camelCase dicts and decimal strings of the real API.

`market` formats market data (meta, contexts, books, candles, trades), `account` what belongs to a
user (order statuses, orders, fills, account state, ledgers, fees). Numbers print as the venue prints
them (`numbers.text`): no trailing zeros but at least one decimal, ``"1100.0"``.
"""
