"""``ops.ingest_batches``: one row per landing file, the record that makes re-ingesting a file a no-op.

The files of one table in one ``ingest_path`` call form a batch: they share its id and its snapshots, and
their rows are committed together in one snapshot of the batch's records.
"""

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
    NestedField(1, "batch_id", StringType(), required=True, doc="sha256 of target table and the batch's files."),
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
    """What one file's batch did with it; becomes one row of ``ops.ingest_batches``."""

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


def ingested_files(table: Table, file_sha256s: list[str]) -> dict[tuple[str, str], str]:
    """Which of these files were fully ingested before: (table name, file sha256) -> the batch id that did it."""
    if table.current_snapshot() is None or not file_sha256s:
        return {}
    checksums = ", ".join(f"'{sha256}'" for sha256 in sorted(set(file_sha256s)))
    rows = table.scan(
        row_filter=f"status = '{INGESTED}' AND file_sha256 IN ({checksums})",
        selected_fields=("table_name", "file_sha256", "batch_id"),
    ).to_arrow()
    return {(row["table_name"], row["file_sha256"]): row["batch_id"] for row in rows.to_pylist()}


def append_batch_records(table: Table, records: list[BatchRecord], batch_id: str) -> None:
    """Commit the rows of a batch's files in one snapshot that carries the batch id, like every commit of the batch."""
    rows = pa.Table.from_pylist(
        [
            {
                **record.__dict__,
                "quarantine_reasons": json.dumps(record.quarantine_reasons, sort_keys=True),
                "added_columns": json.dumps(record.added_columns),
            }
            for record in records
        ],
        schema=BATCHES_SCHEMA.as_arrow(),
    )
    commit_data_files(table, write_data_files(table, rows), batch_id)
