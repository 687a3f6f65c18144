"""The prediction log: every scored transaction appended to the Iceberg table ``ml.predictions``.

Rows are buffered in memory and written in one append every ``flush_seconds`` (a background thread), whenever
``max_buffered_rows`` are waiting, and on close. What a crash can lose is therefore bounded: at most
``max_buffered_rows`` rows, or the rows of the last ``flush_seconds``, whichever is fewer. A graceful shutdown
loses nothing. A failed append keeps its rows in the buffer for the next attempt; when the buffer is full and
still cannot be written, scoring fails rather than dropping rows.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from lake.appends import BufferedAppends
from lake.catalog import create_lake_table
from lake.errors import ScoringError

log = logging.getLogger(__name__)

PREDICTIONS_TABLE = "ml.predictions"
PREDICTIONS_SCHEMA = Schema(
    NestedField(1, "request_id", StringType(), required=True),
    NestedField(2, "transaction_id", StringType(), required=True),
    NestedField(3, "card_id", StringType(), required=True),
    NestedField(4, "merchant_id", StringType(), required=True),
    NestedField(5, "transaction_at", TimestamptzType(), required=True),
    NestedField(6, "scored_at", TimestamptzType(), required=True),
    NestedField(7, "model_version", LongType(), required=True),
    NestedField(8, "fraud_probability", DoubleType(), required=True),
    NestedField(9, "decision", StringType(), required=True),
    NestedField(10, "feature_values", StringType(), required=True, doc="JSON object: feature name -> value used"),
    NestedField(11, "unknown_entities", StringType(), required=True, doc="Comma-separated, empty when none"),
)


def create_predictions_table(catalog: Catalog) -> Table:
    """Create ``ml.predictions`` (day-partitioned on ``scored_at``) unless it exists; return it."""
    spec = PartitionSpec(PartitionField(6, 1000, DayTransform(), "scored_at_day"))
    return create_lake_table(catalog, PREDICTIONS_TABLE, PREDICTIONS_SCHEMA, spec)


class PredictionLog:
    """A bounded in-memory buffer in front of ``ml.predictions``, flushed by a background thread."""

    def __init__(self, catalog: Catalog, flush_seconds: float = 2.0, max_buffered_rows: int = 5_000) -> None:
        """Open (or create) the table and start the flushing thread.

        Args:
            catalog: the profile's catalog.
            flush_seconds: longest time a row waits in memory.
            max_buffered_rows: rows held before a write is forced (the most a crash can lose).
        """
        table = create_predictions_table(catalog)
        self._appends = BufferedAppends(lambda: table)
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_periodically, name="prediction-log", daemon=True)
        self._thread.start()

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Buffer rows; write them right away when the buffer is full.

        Raises:
            ScoringError: the buffer is full and cannot be written (the rows are not accepted).
        """
        if self._appends.add(rows, capacity=self.max_buffered_rows):
            return
        self.write_buffered_rows()
        if not self._appends.add(rows, capacity=self.max_buffered_rows):
            raise ScoringError(f"the prediction log cannot write to {PREDICTIONS_TABLE}; refusing to score")

    @property
    def buffered(self) -> int:
        """Rows waiting to be written."""
        return self._appends.pending

    def write_buffered_rows(self) -> int:
        """Append every buffered row to the table now; on failure they stay buffered.

        Returns:
            Rows written.
        """
        try:
            return self._appends.flush()
        except Exception:
            log.exception("writing predictions to %s failed; kept for the next flush", PREDICTIONS_TABLE)
            return 0

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.write_buffered_rows()

    def close(self) -> int:
        """Stop the thread and write what is left (graceful shutdown).

        Returns:
            Rows written by this last flush.
        """
        self._stop.set()
        self._thread.join(timeout=self.flush_seconds + 30)
        return self.write_buffered_rows()
