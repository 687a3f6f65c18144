"""Which landing files go into which batch.

The files of one table that were not ingested before form batches in file order, each up to
:data:`MAX_BATCH_FILES` files and :data:`MAX_BATCH_BYTES` bytes. Files whose rows a killed run already committed
go back into the batch that committed them, under its id, so a rerun completes that batch instead of appending
its rows again, even when files were added to the folder in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from lake.ingest.sources import SourceFile, batch_id_of

MAX_BATCH_FILES = 100
"""Files per batch: their checksums are listed in the summary of each snapshot the batch commits."""
MAX_BATCH_BYTES = 1 << 30
"""Landing bytes per batch: the keys of a batch's rows are held in memory for the duplicate check."""


@dataclass(frozen=True)
class PendingFile:
    """A landing file to ingest, with its place in the caller's file order and its checksum."""

    position: int
    source: SourceFile
    sha256: str
    size: int


@dataclass(frozen=True)
class BatchPlan:
    """The files of one table ingested together: one commit per table, one commit of their records."""

    batch_id: str
    table_name: str
    files: list[PendingFile]


def plan_batches(table_name: str, pending: list[PendingFile], landed: dict[str, str]) -> list[BatchPlan]:
    """Group the pending files of one table into batches.

    Args:
        table_name: the raw table every file goes to.
        pending: files not ingested before, in file order.
        landed: file sha256 -> id of a batch whose committed snapshot holds the file's rows
            (:func:`lake.ingest.writes.landed_batches` of the raw and quarantine tables).

    Returns:
        Batches to complete (of killed runs) first, then new batches, files in file order within each.
    """
    resumed: dict[str, list[PendingFile]] = {}
    fresh: list[list[PendingFile]] = []
    fresh_bytes = 0
    for file in pending:
        if file.sha256 in landed:
            resumed.setdefault(landed[file.sha256], []).append(file)
            continue
        if not fresh or len(fresh[-1]) == MAX_BATCH_FILES or fresh_bytes + file.size > MAX_BATCH_BYTES:
            fresh.append([])
            fresh_bytes = 0
        fresh[-1].append(file)
        fresh_bytes += file.size
    new = {batch_id_of(table_name, [file.sha256 for file in files]): files for files in fresh}
    return [BatchPlan(batch_id, table_name, files) for batch_id, files in (resumed | new).items()]
