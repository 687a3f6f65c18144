"""One landing file, one batch: read in chunks, check, split into table and quarantine, commit, record.

Every row read ends up exactly once in ``raw.<table>`` or ``raw.<table>_quarantine``. The batch id is the
checksum of the file and its target, so a file already ingested is skipped, and a run that was killed is
completed by running it again: commits that already landed (found by the batch id in their snapshot summary)
are not repeated, and the key check of a rerun sees the table as it was before the batch.
"""

from __future__ import annotations

import getpass
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.manifest import DataFile

from lake.errors import IngestError
from lake.ingest.bookkeeping import (
    INGESTED,
    REJECTED,
    BatchRecord,
    append_batch_record,
    create_batches_table_if_missing,
    find_ingested_batch,
)
from lake.ingest.keys import KeyGuard
from lake.ingest.quarantine import create_quarantine_table_if_missing, quarantine_rows
from lake.ingest.readers import CHUNK_ROWS, read_chunks
from lake.ingest.sources import SourceFile, batch_id_of, file_sha256
from lake.ingest.validation import REASON, file_problem, targets_for, validate_chunk
from lake.ingest.writes import (
    add_new_columns,
    commit_data_files,
    create_table_if_missing,
    delete_data_files,
    landed_snapshot,
    write_data_files,
)

SKIPPED = "already ingested"
"""Status of a file whose batch was ingested before: nothing is appended and nothing recorded."""
_ROW = "__row"


class _Batch:
    """The state of one batch while its chunks are read: target tables, written files and counts."""

    def __init__(self, catalog: Catalog, source: SourceFile, record: BatchRecord) -> None:
        contract = source.contract
        self.source, self.record = source, record
        self.raw = create_table_if_missing(
            catalog, contract.table_name, contract.iceberg_schema(), contract.partition_spec()
        )
        self.quarantine = create_quarantine_table_if_missing(catalog, contract)
        self.raw_landed = landed_snapshot(self.raw, record.batch_id)
        self.quarantine_landed = landed_snapshot(self.quarantine, record.batch_id)
        self.guard = KeyGuard(contract, self.raw, self._keys_snapshot_id())
        self.raw_files: list[DataFile] = []
        self.quarantine_files: list[DataFile] = []
        self.reasons: Counter[str] = Counter()

    def _keys_snapshot_id(self) -> int | None:
        """Keys are checked against the table before this batch, even when a killed run already appended it."""
        if self.raw_landed is not None:
            return self.raw_landed.parent_snapshot_id
        current = self.raw.current_snapshot()
        return current.snapshot_id if current is not None else None

    def write_chunk(self, chunk: pl.DataFrame) -> None:
        """Check one chunk and write its good rows and its quarantined rows as (uncommitted) data files."""
        first_row = self.record.rows_read + 1
        self.record.rows_read += chunk.height
        rows = pl.int_range(first_row, first_row + chunk.height, eager=True, dtype=pl.Int64).alias(_ROW)
        targets = targets_for(self.raw.schema().as_arrow(), self.source.contract)
        problem = file_problem(chunk.schema, targets, self.source.is_text, self.source.contract.table_name)
        if problem is not None:
            self._write_quarantine(chunk, rows, pl.repeat(problem, chunk.height, eager=True, dtype=pl.String))
            return
        self.raw, added = add_new_columns(self.raw, _arrow_schema(chunk, self.source.is_text))
        if added:
            self.record.added_columns.extend(added)
            targets = targets_for(self.raw.schema().as_arrow(), self.source.contract)
        checked = validate_chunk(chunk, targets, self.source.is_text).with_columns(rows)
        passed = checked.filter(pl.col(REASON) == "")
        duplicate = self.guard.duplicate_reasons(passed)
        good = passed.filter(duplicate.is_null())
        bad = pl.concat(
            [
                checked.filter(pl.col(REASON) != "").select(_ROW, REASON),
                passed.filter(duplicate.is_not_null()).select(_ROW, duplicate.drop_nulls().alias(REASON)),
            ]
        ).sort(_ROW)
        self._write_raw(good.select(target.name for target in targets))
        self._write_quarantine(chunk.select(pl.all().gather(bad[_ROW] - first_row)), bad[_ROW], bad[REASON])

    def _write_raw(self, good: pl.DataFrame) -> None:
        self.record.rows_appended += good.height
        if self.raw_landed is None:
            self.raw_files += write_data_files(self.raw, good.to_arrow().cast(self.raw.schema().as_arrow()))

    def _write_quarantine(self, source: pl.DataFrame, rows: pl.Series, reasons: pl.Series) -> None:
        self.record.rows_quarantined += source.height
        self.reasons.update(dict(reasons.value_counts().iter_rows()))
        if self.quarantine_landed is None and source.height:
            records = quarantine_rows(source, rows, reasons, self.record.batch_id, self.record.source_file)
            self.quarantine_files += write_data_files(self.quarantine, records)

    def commit(self) -> None:
        """One commit per table, skipping those a killed run of the same batch already made."""
        batch_id = self.record.batch_id
        if self.raw_landed is not None:
            self.record.raw_snapshot_id = self.raw_landed.snapshot_id
        elif self.raw_files:
            self.record.raw_snapshot_id = commit_data_files(self.raw, self.raw_files, batch_id)
        if self.quarantine_landed is not None:
            self.record.quarantine_snapshot_id = self.quarantine_landed.snapshot_id
        elif self.quarantine_files:
            self.record.quarantine_snapshot_id = commit_data_files(self.quarantine, self.quarantine_files, batch_id)
        self.record.quarantine_reasons = dict(self.reasons)

    def discard(self, reason: str) -> None:
        """Forget the data files written: the file is rejected whole and nothing of it is appended.

        Columns added to the table on the way stay (they are nullable) and stay in the record.
        """
        delete_data_files(self.raw, self.raw_files)
        delete_data_files(self.quarantine, self.quarantine_files)
        self.record.status, self.record.rejection_reason = REJECTED, reason
        self.record.rows_appended = self.record.rows_quarantined = 0


def _arrow_schema(chunk: pl.DataFrame, text: bool) -> pa.Schema:
    """The chunk's columns as the table would store them if they were new (text formats: strings)."""
    if text:
        return pa.schema([pa.field(name, pa.large_string()) for name in chunk.columns])
    schema = chunk.head(0).to_arrow().schema
    return pa.schema([f.with_type(pa.large_string()) if pa.types.is_null(f.type) else f for f in schema])


def ingest_file(
    catalog: Catalog,
    source: SourceFile,
    chunk_rows: int = CHUNK_ROWS,
    on_rows: Callable[[int], None] | None = None,
) -> BatchRecord:
    """Ingest one landing file as one batch (see the module docstring for the guarantees).

    Args:
        catalog: the Iceberg catalog.
        source: the file, its format and contract.
        chunk_rows: rows per Parquet chunk.
        on_rows: called with the number of rows of each chunk read (progress display).

    Returns:
        The batch record: status ``ingested``, ``rejected`` (unreadable file, nothing appended) or
        :data:`SKIPPED`, with row counts by outcome and quarantine reason.
    """
    started = time.perf_counter()
    sha256 = file_sha256(source.path)
    record = BatchRecord(
        batch_id=batch_id_of(source.contract.table_name, sha256),
        table_name=source.contract.table_name,
        source_file=str(source.path.resolve()),
        file_sha256=sha256,
        file_bytes=source.path.stat().st_size,
        file_format=source.fmt,
        status=INGESTED,
        started_at=datetime.now(UTC),
        ingested_by=getpass.getuser(),
    )
    batches = create_batches_table_if_missing(catalog)
    if find_ingested_batch(batches, record.batch_id) is not None:
        record.status, record.duration_s = SKIPPED, time.perf_counter() - started
        return record
    batch = _Batch(catalog, source, record)
    try:
        for chunk in read_chunks(source.path, source.fmt, chunk_rows):
            batch.write_chunk(chunk)
            if on_rows is not None:
                on_rows(chunk.height)
    except IngestError as error:
        batch.discard(str(error))
    else:
        batch.commit()
    record.duration_s = time.perf_counter() - started
    append_batch_record(batches, record)
    return record
