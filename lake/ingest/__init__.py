"""Contract-checked ingestion of landing files (Parquet, CSV, JSON Lines) into the raw Iceberg tables.

``ingest_path`` is the one entry point: the files of each table become one idempotent, atomic batch (one commit
per table) whose rows land exactly once in ``raw.<table>`` or ``raw.<table>_quarantine``, recorded in
``ops.ingest_batches`` one row per file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lake.catalog import load_catalog
from lake.ingest.bookkeeping import INGESTED, REJECTED, BatchRecord
from lake.ingest.pipeline import SKIPPED, ingest_sources
from lake.ingest.plan import BatchPlan
from lake.ingest.readers import CHUNK_ROWS
from lake.ingest.sources import resolve_sources
from lake.settings import Settings, get_settings

__all__ = ["INGESTED", "REJECTED", "SKIPPED", "BatchRecord", "IngestReport", "ingest_path"]


@dataclass(frozen=True)
class IngestReport:
    """What one ``ingest_path`` call did: a record per file, in file order.

    Files of one table share their batch's ``batch_id`` and snapshot ids; each has its own status and counts.
    """

    batches: list[BatchRecord]

    @property
    def rows_read(self) -> int:
        """Rows read from files that were not skipped."""
        return sum(batch.rows_read for batch in self.batches)

    @property
    def rows_appended(self) -> int:
        """Rows that went into raw tables."""
        return sum(batch.rows_appended for batch in self.batches)

    @property
    def rows_quarantined(self) -> int:
        """Rows that went into quarantine tables."""
        return sum(batch.rows_quarantined for batch in self.batches)

    @property
    def rejected(self) -> list[BatchRecord]:
        """Files that could not be read; nothing of them was appended."""
        return [batch for batch in self.batches if batch.status == REJECTED]


def ingest_path(
    path: str | Path,
    table: str | None = None,
    settings: Settings | None = None,
    progress: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestReport:
    """Ingest a landing file, or every landing file in a folder; the files of each table form one batch.

    Args:
        path: a ``.parquet``, ``.csv`` or ``.jsonl`` file, or a folder of them.
        table: ``raw.<name>`` for every file; default: from each file name (``<table>[-suffix].<ext>``).
        settings: settings to use; default: the process settings.
        progress: show a rich progress display on the terminal.
        chunk_rows: rows per Parquet chunk (bounds memory).

    Returns:
        One record per file.

    Raises:
        IngestError: the path does not exist, holds a file of an unsupported format, or names no known table;
            raised before anything is ingested.
    """
    sources = resolve_sources(Path(path), table)
    catalog = load_catalog(settings or get_settings())
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} rows"))
    with Progress(*columns, TimeElapsedColumn(), disable=not progress, transient=True) as bar:
        return IngestReport(ingest_sources(catalog, sources, chunk_rows, partial(_progress_task, bar)))


def _progress_task(bar: Progress, plan: BatchPlan) -> Callable[[int], None]:
    task = bar.add_task(f"{len(plan.files)} file(s) -> {plan.table_name}")
    return partial(bar.advance, task)
