"""ClickHouse storage: one API over embedded chDB and a ClickHouse server.

`connect` opens a `Store`; `Store.init_schema` applies the migrations in
infra/clickhouse/; `BatchWriter` performs buffered columnar inserts that retry,
spill to disk while the store is down, and replay once it is back.
"""

from pairflow.storage.store import Store, connect
from pairflow.storage.tables import TABLE_OF_EVENT, table_for
from pairflow.storage.writer import BatchWriter

__all__ = ["TABLE_OF_EVENT", "BatchWriter", "Store", "connect", "table_for"]
