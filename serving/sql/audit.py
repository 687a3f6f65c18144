"""The query audit: every statement the endpoint answers lands in the Iceberg table ``ops.query_log``.

Entries are buffered in memory and appended in batches (one Iceberg commit per batch, never one per query on
the hot path): when the buffer reaches ``batch_size``, when the server's flush interval elapses, and on
shutdown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from lake.appends import BufferedAppends
from lake.catalog import create_lake_table

QUERY_LOG_TABLE = "ops.query_log"

QUERY_LOG_SCHEMA = Schema(
    NestedField(1, "query_id", StringType(), required=True),
    NestedField(2, "user_name", StringType(), required=True),
    NestedField(3, "source", StringType(), required=False),
    NestedField(4, "sql", StringType(), required=True),
    NestedField(5, "state", StringType(), required=True, doc="FINISHED, FAILED or CANCELED"),
    NestedField(6, "rows", LongType(), required=True),
    NestedField(7, "duration_ms", LongType(), required=True),
    NestedField(8, "error_name", StringType(), required=False),
    NestedField(9, "error_message", StringType(), required=False),
    NestedField(10, "started_at", TimestamptzType(), required=True),
)


@dataclass(frozen=True)
class AuditEntry:
    """One answered statement."""

    query_id: str
    user_name: str
    source: str | None
    sql: str
    state: str
    rows: int
    duration_ms: int
    error_name: str | None
    error_message: str | None
    started_at: datetime


class QueryLog:
    """Buffers :class:`AuditEntry` records and appends them to ``ops.query_log`` in batches."""

    def __init__(self, catalog: Catalog, batch_size: int = 500) -> None:
        self._catalog = catalog
        self._batch_size = batch_size
        self._appends = BufferedAppends(self._query_log_table)

    def record(self, entry: AuditEntry) -> None:
        """Buffer one entry; appends the buffer when it is full."""
        self._appends.add([asdict(entry)])
        if self._appends.pending >= self._batch_size:
            self.append_buffered()

    @property
    def pending(self) -> int:
        """Entries buffered and not yet appended."""
        return self._appends.pending

    def append_buffered(self) -> int:
        """Append every buffered entry to the Iceberg table in one commit (on failure they stay buffered).

        Returns:
            The number of entries written.
        """
        return self._appends.flush()

    def _query_log_table(self) -> Table:
        return create_lake_table(self._catalog, QUERY_LOG_TABLE, QUERY_LOG_SCHEMA)
