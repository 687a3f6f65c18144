"""Table writes for ingestion: create from the contract, add new columns, write data files, commit once.

A batch writes all its data files first and then makes one commit per table, tagged with the batch id in the
snapshot summary. A killed process therefore leaves each table at a committed snapshot, and a rerun can tell
which of its commits already landed. Commit conflicts with concurrent writers are retried by pyiceberg itself
(refresh, rebuild, exponential backoff) with the retry budget set on every table created here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

logger = logging.getLogger(__name__)

BATCH_PROPERTY = "lakeforge.batch-id"
"""Snapshot-summary property naming the ingestion batch that made the commit."""
COMMIT_RETRY_PROPERTIES = {
    "commit.retry.num-retries": "30",
    "commit.retry.min-wait-ms": "20",
    "commit.retry.max-wait-ms": "2000",
}
"""Generous retries: several ingest processes may append to the same table at once."""
_SCHEMA_RETRIES = 10


def create_table_if_missing(
    catalog: Catalog, name: str, schema: Schema, partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC
) -> Table:
    """Load ``name``, creating it with this schema and spec first if it does not exist (safe under races)."""
    return catalog.create_table_if_not_exists(
        name, schema=schema, partition_spec=partition_spec, properties=COMMIT_RETRY_PROPERTIES
    )


def add_new_columns(table: Table, source: pa.Schema) -> tuple[Table, list[str]]:
    """Add the source's columns the table lacks, as nullable columns of the source's type.

    Args:
        table: the raw table.
        source: Arrow schema of the incoming file (text formats: every column as string).

    Returns:
        The table after the change and the names of the added columns (empty when nothing changed).
    """
    for _ in range(_SCHEMA_RETRIES):
        known = set(table.schema().column_names)
        new = [field.with_nullable(True) for field in source if field.name not in known]
        if not new:
            return table, []
        try:
            with table.update_schema() as update:
                update.union_by_name(pa.schema(new))
        except CommitFailedException:
            table.refresh()
            continue
        names = [field.name for field in new]
        logger.info("schema of %s evolved: added nullable column(s) %s", table.name(), ", ".join(names))
        return table.refresh(), names
    raise CommitFailedException(f"could not add columns to {table.name()}: the schema kept changing concurrently")


def write_data_files(table: Table, rows: pa.Table) -> list[DataFile]:
    """Write rows as Parquet data files of the table (split by partition), without committing them."""
    if rows.num_rows == 0:
        return []
    return list(_dataframe_to_data_files(table_metadata=table.metadata, df=rows, io=table.io))


def commit_data_files(table: Table, files: Iterable[DataFile], batch_id: str) -> int:
    """Append previously written data files to the table in one snapshot tagged with the batch id.

    Returns:
        The id of the new snapshot.
    """
    properties = {BATCH_PROPERTY: batch_id}
    with table.transaction() as transaction, transaction.update_snapshot(properties).fast_append() as append:
        for data_file in files:
            append.append_data_file(data_file)
    landed = landed_snapshot(table.refresh(), batch_id)
    assert landed is not None, "a committed snapshot carries its batch id"
    return landed.snapshot_id


def delete_data_files(table: Table, files: Iterable[DataFile]) -> None:
    """Remove data files that were written but will never be committed."""
    for data_file in files:
        table.io.delete(data_file.file_path)


def landed_snapshot(table: Table, batch_id: str) -> Snapshot | None:
    """The table's snapshot committed by this batch, if an earlier run got that far."""
    for snapshot in table.metadata.snapshots:
        if snapshot.summary is not None and snapshot.summary.get(BATCH_PROPERTY) == batch_id:
            return snapshot
    return None
