"""Quarantine tables: rows that break the contract, kept as sent (JSON text), with why and where they came from."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from lake.contracts import Contract
from lake.ingest.writes import create_table_if_missing

QUARANTINE_SCHEMA = Schema(
    NestedField(1, "batch_id", StringType(), required=True, doc="Ingestion batch that read the row."),
    NestedField(2, "source_file", StringType(), required=True, doc="Landing file the row came from."),
    NestedField(3, "row_number", LongType(), required=True, doc="1-based data row number within the file."),
    NestedField(4, "reason", StringType(), required=True, doc="Every problem of the row, separated by '; '."),
    NestedField(5, "original", StringType(), required=True, doc="The row's values as read, as a JSON object."),
    NestedField(6, "quarantined_at", TimestamptzType(), required=True, doc="When the batch read the row."),
)
QUARANTINE_ARROW = QUARANTINE_SCHEMA.as_arrow()


def quarantine_table_name(contract: Contract) -> str:
    """``raw.<table>_quarantine``."""
    return f"{contract.table_name}_quarantine"


def create_quarantine_table_if_missing(catalog: Catalog, contract: Contract) -> Table:
    """The contract's quarantine table, created on first use."""
    return create_table_if_missing(catalog, quarantine_table_name(contract), QUARANTINE_SCHEMA)


def quarantine_rows(
    source: pl.DataFrame,
    row_numbers: pl.Series,
    reasons: pl.Series,
    batch_id: str,
    source_file: str,
    at: datetime | None = None,
) -> pa.Table:
    """Quarantine records for rows of a chunk, their original values encoded as JSON objects.

    Args:
        source: the rejected rows exactly as read (original column types; binary values as base64 text).
        row_numbers: their 1-based row numbers in the file.
        reasons: their problems.
        batch_id: the ingestion batch.
        source_file: the landing file.
        at: the time of quarantine; default: now.
    """
    original = (
        source.with_columns(pl.col(pl.Binary).bin.encode("base64"))  # Polars panics writing bytes as JSON
        .select(pl.struct(pl.all()).struct.json_encode())
        .to_series()
        if source.width
        else pl.repeat("{}", source.height, eager=True)
    )
    records = pa.table(
        {
            "batch_id": pa.array([batch_id] * source.height, pa.large_string()),
            "source_file": pa.array([source_file] * source.height, pa.large_string()),
            "row_number": row_numbers.cast(pl.Int64).to_arrow(),
            "reason": reasons.to_arrow(),
            "original": original.to_arrow(),
            "quarantined_at": pa.array([at or datetime.now(UTC)] * source.height, pa.timestamp("us", "UTC")),
        }
    )
    return records.cast(QUARANTINE_ARROW)
