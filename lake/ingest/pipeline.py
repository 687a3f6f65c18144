"""Landing files to raw tables, a batch at a time: read in chunks, check, split into table and quarantine, commit.

Every row read ends up exactly once in ``raw.<table>`` or ``raw.<table>_quarantine``. A batch holds the files of
one table (:mod:`lake.ingest.plan`); their data files are written on background threads while the next chunk is
read and checked, then the batch makes one commit per table and one commit of its records, a row per file, to
``ops.ingest_batches``. A file is known by its checksum, so a file ingested before is skipped. A run that was
killed is completed by running it again: the batch is formed again from the files its landed commits list, those
commits are not repeated, and the key check sees the table as it was before the batch.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import partial

import polars as pl
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from lake.contracts import Contract
from lake.errors import IngestError
from lake.ingest.bookkeeping import (
    INGESTED,
    REJECTED,
    BatchRecord,
    append_batch_records,
    create_batches_table_if_missing,
    ingested_files,
)
from lake.ingest.keys import KeyGuard
from lake.ingest.plan import BatchPlan, PendingFile, plan_batches
from lake.ingest.quarantine import create_quarantine_table_if_missing, quarantine_rows
from lake.ingest.readers import read_chunks
from lake.ingest.sources import SourceFile, batch_id_of, file_sha256s, landing_path, unreadable_reason
from lake.ingest.validation import file_problem, targets_for, validate_chunk
from lake.ingest.writes import (
    DataFileWriter,
    add_new_columns,
    commit_data_files,
    create_table_if_missing,
    delete_written_files,
    landed_batches,
    landed_snapshot,
    stored_columns,
    written_files,
)

logger = logging.getLogger(__name__)

SKIPPED = "already ingested"
"""Status of a file that was ingested before (or earlier in the same call): nothing is appended or recorded."""

FILE_ERRORS = (Exception, pl.exceptions.PanicException)
"""What one bad file may raise without stopping the others: any error but an interrupt (Polars' panics are not
:class:`Exception`)."""

RowsRead = Callable[[int], None]
"""Called with the number of rows of each chunk read (progress display)."""


def ingest_sources(
    catalog: Catalog, sources: list[SourceFile], chunk_rows: int, on_batch: Callable[[BatchPlan], RowsRead]
) -> list[BatchRecord]:
    """Ingest landing files, the files of each table in as few batches as the batch limits allow.

    Args:
        catalog: the Iceberg catalog.
        sources: the files, in the order their records are returned.
        chunk_rows: rows per Parquet chunk.
        on_batch: called as each batch starts; returns the callback for the rows it reads.

    Returns:
        One record per file: status ``ingested``, ``rejected`` (unreadable file, nothing appended) or
        :data:`SKIPPED`, with row counts by outcome and quarantine reason.
    """
    batches_table = create_batches_table_if_missing(catalog)
    records: list[BatchRecord | None] = [None] * len(sources)
    unreadable = {position: reason for position, s in enumerate(sources) if (reason := unreadable_reason(s.path))}
    if unreadable:
        _record_unreadable(batches_table, sources, unreadable, records)
    readable = [(position, source) for position, source in enumerate(sources) if position not in unreadable]
    sha256s = file_sha256s([source.path for _, source in readable])
    files = [
        PendingFile(position, source, sha256, source.path.stat().st_size)
        for (position, source), sha256 in zip(readable, sha256s, strict=True)
    ]
    done = ingested_files(batches_table, sha256s)
    first_position: dict[tuple[str, str], int] = {}
    pending: dict[str, list[PendingFile]] = {}
    for file in files:
        key = (file.source.contract.table_name, file.sha256)
        if key in done:
            records[file.position] = _new_record(file, done[key], SKIPPED)
        elif key not in first_position:
            first_position[key] = file.position
            pending.setdefault(key[0], []).append(file)
    for table_name, table_files in pending.items():
        raw, quarantine = _tables(catalog, table_files[0].source.contract)
        for plan in plan_batches(table_name, table_files, landed_batches(quarantine) | landed_batches(raw)):
            for ingested in _ingest_batch(raw, quarantine, batches_table, plan, chunk_rows, on_batch(plan)):
                records[ingested.pending.position] = ingested.record
    for file in files:
        if records[file.position] is None:
            first = records[first_position[(file.source.contract.table_name, file.sha256)]]
            assert first is not None, "the first file of the same content was ingested above"
            records[file.position] = _new_record(file, first.batch_id, SKIPPED)
    return [record for record in records if record is not None]


def _record_unreadable(
    batches_table: Table, sources: list[SourceFile], reasons: dict[int, str], records: list[BatchRecord | None]
) -> None:
    """Reject the files that cannot be read at all, in one commit of their records (checksum unknown: "")."""
    batch_id = batch_id_of(REJECTED, [landing_path(sources[position].path) for position in reasons])
    for position, reason in reasons.items():
        source = sources[position]
        size = source.path.stat().st_size if source.path.exists() else 0  # it may have vanished since listed
        record = _new_record(PendingFile(position, source, "", size), batch_id, REJECTED)
        record.rejection_reason = reason
        records[position] = record
    append_batch_records(batches_table, [record for record in records if record is not None], batch_id)


def _ingest_batch(
    raw: Table, quarantine: Table, batches_table: Table, plan: BatchPlan, chunk_rows: int, on_rows: RowsRead
) -> list[_File]:
    """Read every file of the batch, commit, record; data files written for nothing are deleted on failure.

    The commit time is shared out evenly over the files' durations, so they add up to the batch's time.
    """
    started = time.perf_counter()
    with DataFileWriter() as writer:
        batch = _Batch(raw, quarantine, plan, writer)
        try:
            for file in batch.files:
                batch.read_file(file, chunk_rows, on_rows)
            for file in batch.files:
                batch.check_writes(file)
            kept = [file for file in batch.files if file.record.status == INGESTED]
            raw_files = written_files(write for file in kept for write in file.raw_writes)
            quarantine_files = written_files(write for file in kept for write in file.quarantine_writes)
        except BaseException:
            for file in batch.files:
                batch.discard(file)
            raise
    batch.commit(raw_files, quarantine_files)
    records = [file.record for file in batch.files]
    commit_share = (time.perf_counter() - started - sum(record.duration_s for record in records)) / len(records)
    for record in records:
        record.duration_s += commit_share
    append_batch_records(batches_table, records, plan.batch_id)
    return batch.files


class _File:
    """One file of a batch: its record and the pending writes of its rows."""

    def __init__(self, pending: PendingFile, batch_id: str) -> None:
        self.pending, self.source = pending, pending.source
        self.record = _new_record(pending, batch_id, INGESTED)
        self.raw_writes: list[Future[list[DataFile]]] = []
        self.quarantine_writes: list[Future[list[DataFile]]] = []


class _Batch:
    """The state of one batch while its files are read: target tables, key guard, and each file's writes."""

    def __init__(self, raw: Table, quarantine: Table, plan: BatchPlan, writer: DataFileWriter) -> None:
        self.raw, self.quarantine, self.batch_id, self.writer = raw, quarantine, plan.batch_id, writer
        self.contract = plan.files[0].source.contract
        self.raw_landed = landed_snapshot(raw, plan.batch_id)
        self.quarantine_landed = landed_snapshot(quarantine, plan.batch_id)
        self.guard = KeyGuard(self.contract, raw, self._keys_snapshot_id())
        self.files = [_File(pending, plan.batch_id) for pending in plan.files]

    def _keys_snapshot_id(self) -> int | None:
        """Keys are checked against the table before this batch, even when a killed run already appended it."""
        if self.raw_landed is not None:
            return self.raw_landed.parent_snapshot_id
        current = self.raw.current_snapshot()
        return current.snapshot_id if current is not None else None

    def read_file(self, file: _File, chunk_rows: int, on_rows: RowsRead) -> None:
        """Read, check and write one file's rows; a file that cannot be read or checked is rejected whole.

        Any error is the file's own: it is rejected with the error as its reason and the batch goes on.
        """
        started = time.perf_counter()
        file.record.started_at = datetime.now(UTC)
        try:
            for chunk in read_chunks(file.source.path, file.source.fmt, chunk_rows):
                self._write_chunk(file, chunk)
                on_rows(chunk.height)
        except IngestError as error:
            self._reject(file, str(error))
        except FILE_ERRORS as error:
            self._reject(file, _unexpected(file, error))
        else:
            self.guard.end_file(keep=True)
        file.record.duration_s = time.perf_counter() - started

    def check_writes(self, file: _File) -> None:
        """Reject a file whose data files could not be written (waits for its writes)."""
        if file.record.status != INGESTED:
            return
        for write in [*file.raw_writes, *file.quarantine_writes]:
            error = write.exception()
            if error is not None:
                self._reject(file, _unexpected(file, error))
                return

    def _reject(self, file: _File, reason: str) -> None:
        """Nothing of the file is committed and its keys do not count; it keeps the rows it read, for the record."""
        self.guard.end_file(keep=False)
        self.discard(file)
        record = file.record
        record.status, record.rejection_reason = REJECTED, reason
        record.rows_appended = record.rows_quarantined = 0
        record.quarantine_reasons = {}

    def _write_chunk(self, file: _File, chunk: pl.DataFrame) -> None:
        """Check one chunk and hand its good rows and its quarantined rows to the writer."""
        source, record = file.source, file.record
        first_row = record.rows_read + 1
        record.rows_read += chunk.height
        rows = pl.int_range(first_row, first_row + chunk.height, eager=True, dtype=pl.Int64)
        table_schema = self.raw.schema().as_arrow()
        known = set(table_schema.names)
        new_columns = pa.schema([f for f in _arrow_schema(chunk, source.is_text) if f.name not in known])
        stored, unstorable = stored_columns(new_columns)
        targets = targets_for(pa.schema([*table_schema, *stored]), self.contract)
        problem = file_problem(chunk.schema, targets, source.is_text, self.contract.table_name, unstorable)
        if problem is not None:
            self._write_quarantine(file, chunk, rows, pl.repeat(problem, chunk.height, eager=True, dtype=pl.String))
            return
        self.raw, added = add_new_columns(self.raw, new_columns)
        if added:
            record.added_columns.extend(added)
            targets = targets_for(self.raw.schema().as_arrow(), self.contract)
        values, reasons = validate_chunk(chunk, targets, source.is_text)
        valid = reasons == ""
        passed = values.filter(valid)
        duplicate = self.guard.duplicate_reasons(passed)
        unique = duplicate.is_null()
        bad_rows = pl.concat([rows.filter(~valid), rows.filter(valid).filter(~unique)])
        bad_reasons = pl.concat([reasons.filter(~valid), duplicate.filter(~unique)])
        order = bad_rows.arg_sort()
        self._write_raw(file, passed.filter(unique))
        bad_rows, bad_reasons = bad_rows.gather(order), bad_reasons.gather(order)
        self._write_quarantine(file, chunk.select(pl.all().gather(bad_rows - first_row)), bad_rows, bad_reasons)

    def _write_raw(self, file: _File, good: pl.DataFrame) -> None:
        file.record.rows_appended += good.height
        if self.raw_landed is None and good.height:
            rows = partial(_as_arrow, good, self.raw.schema().as_arrow())
            file.raw_writes.append(self.writer.write(self.raw, rows))

    def _write_quarantine(self, file: _File, source: pl.DataFrame, rows: pl.Series, reasons: pl.Series) -> None:
        record = file.record
        record.rows_quarantined += source.height
        for reason, count in reasons.value_counts().iter_rows():
            record.quarantine_reasons[reason] = record.quarantine_reasons.get(reason, 0) + count
        if self.quarantine_landed is None and source.height:
            quarantined = partial(quarantine_rows, source, rows, reasons, self.batch_id, record.source_file)
            file.quarantine_writes.append(self.writer.write(self.quarantine, quarantined))

    def discard(self, file: _File) -> None:
        """Delete the data files written for a file whose rows will not be committed."""
        delete_written_files(self.raw, file.raw_writes)
        delete_written_files(self.quarantine, file.quarantine_writes)
        file.raw_writes, file.quarantine_writes = [], []

    def commit(self, raw_files: list[DataFile], quarantine_files: list[DataFile]) -> None:
        """One commit per table for the files not rejected, skipping those a killed run of the batch already made."""
        kept = [file.record for file in self.files if file.record.status == INGESTED]
        sha256s = [record.file_sha256 for record in kept]
        raw_id = _commit(self.raw, self.raw_landed, raw_files, self.batch_id, sha256s)
        quarantine_id = _commit(self.quarantine, self.quarantine_landed, quarantine_files, self.batch_id, sha256s)
        for record in kept:
            record.raw_snapshot_id = raw_id if record.rows_appended else None
            record.quarantine_snapshot_id = quarantine_id if record.rows_quarantined else None


def _commit(
    table: Table, landed: Snapshot | None, data_files: list[DataFile], batch_id: str, sha256s: list[str]
) -> int | None:
    """The batch's snapshot of the table: committed by a killed run, committed now, or none (no rows for it)."""
    if landed is not None:
        return landed.snapshot_id
    return commit_data_files(table, data_files, batch_id, sha256s) if data_files else None


def _tables(catalog: Catalog, contract: Contract) -> tuple[Table, Table]:
    """The contract's raw and quarantine tables, created on first use."""
    raw = create_table_if_missing(catalog, contract.table_name, contract.iceberg_schema(), contract.partition_spec())
    return raw, create_quarantine_table_if_missing(catalog, contract)


def _new_record(file: PendingFile, batch_id: str, status: str) -> BatchRecord:
    return BatchRecord(
        batch_id=batch_id,
        table_name=file.source.contract.table_name,
        source_file=landing_path(file.source.path),
        file_sha256=file.sha256,
        file_bytes=file.size,
        file_format=file.source.fmt,
        status=status,
        started_at=datetime.now(UTC),
        ingested_by=getpass.getuser(),
    )


def _unexpected(file: _File, error: BaseException) -> str:
    """The rejection reason for an error no check foresaw; the traceback goes to the log."""
    logger.info("ingesting %s failed", file.record.source_file, exc_info=error)
    return f"{file.source.path.name} could not be ingested: {type(error).__name__}: {error}"


def _as_arrow(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    return frame.to_arrow().cast(schema)


def _arrow_schema(chunk: pl.DataFrame, text: bool) -> pa.Schema:
    """The chunk's columns as the table would store them if they were new (text formats: strings)."""
    if text:
        return pa.schema([pa.field(name, pa.large_string()) for name in chunk.columns])
    schema = chunk.head(0).to_arrow().schema
    return pa.schema([f.with_type(pa.large_string()) if pa.types.is_null(f.type) else f for f in schema])
