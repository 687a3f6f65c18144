"""Table writes for ingestion: create from the contract, add new columns, write data files, commit once.

A batch writes all its data files first (on background threads, see :class:`DataFileWriter`) and then makes one
commit per table, tagged in the snapshot summary with the batch id and the checksums of the files it holds. A
killed process therefore leaves each table at a committed snapshot, and a rerun can tell which of its commits
already landed and which files they hold. Commit conflicts with concurrent writers are retried by pyiceberg
itself (refresh, rebuild, exponential backoff) with the retry budget set on every table created here.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    UnsupportedPyArrowTypeException,
    _dataframe_to_data_files,
    _pyarrow_to_schema_without_ids,
    schema_to_pyarrow,
)
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from lake.catalog import MERGED_MANIFESTS, LakeTransaction, create_lake_table

logger = logging.getLogger(__name__)

BATCH_PROPERTY = "lakeforge.batch-id"
"""Snapshot-summary property naming the ingestion batch that made the commit."""
FILES_PROPERTY = "lakeforge.batch-files"
"""Snapshot-summary property: comma-separated sha256 of the landing files whose rows the batch commits."""
WRITE_THREADS = 2
"""Chunks written at once; Parquet encoding releases the GIL, so they run beside reading and checking."""
WRITES_IN_FLIGHT = 3
"""Chunks handed to the writer and not yet written (bounds memory)."""
INGEST_TABLE_PROPERTIES = {
    "commit.retry.num-retries": "30",
    "commit.retry.min-wait-ms": "20",
    "commit.retry.max-wait-ms": "2000",
    **MERGED_MANIFESTS,
}
"""Properties of every table ingestion creates (raw, quarantine, ``ops.ingest_batches``): generous retries, since
several ingest processes may append to the same table at once, and merged manifests."""
_SCHEMA_RETRIES = 10


def create_table_if_missing(
    catalog: Catalog, name: str, schema: Schema, partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC
) -> Table:
    """Load ``name``, creating it with this schema and spec and :data:`INGEST_TABLE_PROPERTIES` first if it does
    not exist (safe under races)."""
    return create_lake_table(catalog, name, schema, partition_spec, INGEST_TABLE_PROPERTIES)


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


def stored_columns(columns: pa.Schema) -> tuple[pa.Schema, list[str]]:
    """New columns as :func:`add_new_columns` would store them, to check a file against before the table changes.

    Iceberg has no unsigned or nanosecond types, among others: a uint64 column would be stored as a long, a
    time64 column not at all.

    Args:
        columns: Arrow fields of columns the table lacks.

    Returns:
        The storable columns with the Arrow type the table would give them, and the names of the others.
    """
    stored, unstorable = [], []
    for field in columns:
        try:
            stored.append(
                schema_to_pyarrow(_pyarrow_to_schema_without_ids(pa.schema([field])))[0].with_name(field.name)
            )
        except (UnsupportedPyArrowTypeException, ValueError, TypeError):
            unstorable.append(field.name)
    return pa.schema(stored), unstorable


def write_data_files(table: Table, rows: pa.Table) -> list[DataFile]:
    """Write rows as Parquet data files of the table (split by partition), without committing them."""
    return _write_data_files(table.metadata, table.io, rows)


def _write_data_files(metadata: TableMetadata, io: FileIO, rows: pa.Table) -> list[DataFile]:
    if rows.num_rows == 0:
        return []
    return list(_dataframe_to_data_files(table_metadata=metadata, df=rows, io=io))


class DataFileWriter:
    """Writes chunks as data files on background threads while the caller reads and checks the next chunk.

    Both cores of a small machine then work: Polars, Arrow and the Parquet encoder release the GIL. At most
    :data:`WRITES_IN_FLIGHT` chunks wait or are being written, so memory stays bounded.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="lakeforge-ingest-write")
        self._pending: deque[Future[list[DataFile]]] = deque()

    def write(self, table: Table, rows: Callable[[], pa.Table]) -> Future[list[DataFile]]:
        """Build ``rows()`` and write it as data files of ``table`` (uncommitted), waiting while too much is queued."""
        while len(self._pending) >= WRITES_IN_FLIGHT:
            self._pending.popleft().exception()  # waits; a failed write is reported with its own file
        metadata, io = table.metadata, table.io  # as of now: the caller may evolve the schema meanwhile
        future = self._pool.submit(lambda: _write_data_files(metadata, io, rows()))
        self._pending.append(future)
        return future

    def __enter__(self) -> DataFileWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._pool.shutdown(wait=True)


def written_files(writes: Iterable[Future[list[DataFile]]]) -> list[DataFile]:
    """The data files of finished writes (waits for them; raises the first write's error)."""
    return [data_file for write in writes for data_file in write.result()]


def commit_data_files(
    table: Table, files: Iterable[DataFile], batch_id: str, file_sha256s: list[str] | None = None
) -> int:
    """Append previously written data files to the table in one snapshot tagged with the batch (and its files).

    Returns:
        The id of the new snapshot.
    """
    properties = {BATCH_PROPERTY: batch_id} | ({FILES_PROPERTY: ",".join(file_sha256s)} if file_sha256s else {})
    with LakeTransaction(table) as transaction, transaction.update_snapshot(properties).merge_append() as append:
        for data_file in files:
            append.append_data_file(data_file)
    landed = landed_snapshot(table.refresh(), batch_id)
    assert landed is not None, "a committed snapshot carries its batch id"
    return landed.snapshot_id


def delete_written_files(table: Table, writes: Iterable[Future[list[DataFile]]]) -> None:
    """Remove data files that were written but will never be committed (waits for the writes to finish)."""
    for write in writes:
        if write.exception() is None:
            for data_file in write.result():
                table.io.delete(data_file.file_path)


def landed_snapshot(table: Table, batch_id: str) -> Snapshot | None:
    """The table's snapshot committed by this batch, if an earlier run got that far (and it was not rolled back)."""
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        if snapshot.summary is not None and snapshot.summary.get(BATCH_PROPERTY) == batch_id:
            return snapshot
    return None


def landed_batches(table: Table) -> dict[str, str]:
    """For each landing file (sha256) whose rows the table's history holds: the id of the batch that committed them."""
    batches: dict[str, str] = {}
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        if summary.get(FILES_PROPERTY):
            batches.update(dict.fromkeys(summary[FILES_PROPERTY].split(","), summary[BATCH_PROPERTY]))
    return batches
