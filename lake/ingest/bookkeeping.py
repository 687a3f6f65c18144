"""``ops.ingest_batches``: one row per ingestion batch, the record that makes re-ingestion a no-op."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from lake.ingest.writes import commit_data_files, create_table_if_missing, write_data_files

BATCHES_TABLE = "ops.ingest_batches"
INGESTED, REJECTED = "ingested", "rejected"

BATCHES_SCHEMA = Schema(
    NestedField(1, "batch_id", StringType(), required=True, doc="sha256 of target table and file checksum."),
    NestedField(2, "table_name", StringType(), required=True, doc="Target raw table."),
    NestedField(3, "source_file", StringType(), required=True, doc="Landing file path."),
    NestedField(4, "file_sha256", StringType(), required=True, doc="Checksum of the file's bytes."),
    NestedField(5, "file_bytes", LongType(), required=True),
    NestedField(6, "file_format", StringType(), required=True),
    NestedField(7, "status", StringType(), required=True, doc="ingested, or rejected (nothing appended)."),
    NestedField(8, "rows_read", LongType(), required=True),
    NestedField(9, "rows_appended", LongType(), required=True),
    NestedField(10, "rows_quarantined", LongType(), required=True),
    NestedField(11, "quarantine_reasons", StringType(), required=True, doc="JSON object: reason -> rows."),
    NestedField(12, "rejection_reason", StringType(), required=False),
    NestedField(13, "added_columns", StringType(), required=True, doc="JSON list of columns added to the table."),
    NestedField(14, "raw_snapshot_id", LongType(), required=False),
    NestedField(15, "quarantine_snapshot_id", LongType(), required=False),
    NestedField(16, "started_at", TimestamptzType(), required=True),
    NestedField(17, "duration_s", DoubleType(), required=True),
    NestedField(18, "ingested_by", StringType(), required=True, doc="OS user that ran the ingestion."),
)


@dataclass
class BatchRecord:
    """What one batch did; becomes one row of ``ops.ingest_batches``."""

    batch_id: str
    table_name: str
    source_file: str
    file_sha256: str
    file_bytes: int
    file_format: str
    status: str
    started_at: datetime
    ingested_by: str
    rows_read: int = 0
    rows_appended: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    rejection_reason: str | None = None
    added_columns: list[str] = field(default_factory=list)
    raw_snapshot_id: int | None = None
    quarantine_snapshot_id: int | None = None
    duration_s: float = 0.0


def create_batches_table_if_missing(catalog: Catalog) -> Table:
    """``ops.ingest_batches``, created on first use."""
    return create_table_if_missing(catalog, BATCHES_TABLE, BATCHES_SCHEMA)


def find_ingested_batch(table: Table, batch_id: str) -> dict[str, object] | None:
    """The record of a batch that was fully ingested before, or None."""
    if table.current_snapshot() is None:
        return None
    rows = table.scan(row_filter=f"batch_id = '{batch_id}' AND status = '{INGESTED}'").to_arrow()
    return rows.slice(0, 1).to_pylist()[0] if rows.num_rows else None


def append_batch_record(table: Table, record: BatchRecord) -> None:
    """Commit the batch's row; its snapshot carries the batch id like every other commit of the batch."""
    row = {
        **record.__dict__,
        "quarantine_reasons": json.dumps(record.quarantine_reasons, sort_keys=True),
        "added_columns": json.dumps(record.added_columns),
    }
    rows = pa.Table.from_pylist([row], schema=BATCHES_SCHEMA.as_arrow())
    commit_data_files(table, write_data_files(table, rows), record.batch_id)
