"""Contract-checked ingestion of landing files (Parquet, CSV, JSON Lines) into the raw Iceberg tables.

``ingest_path`` is the one entry point: each file becomes one idempotent, atomic batch whose rows land
exactly once in ``raw.<table>`` or ``raw.<table>_quarantine``, recorded in ``ops.ingest_batches``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lake.catalog import load_catalog
from lake.ingest.bookkeeping import INGESTED, REJECTED, BatchRecord
from lake.ingest.pipeline import SKIPPED, ingest_file
from lake.ingest.readers import CHUNK_ROWS
from lake.ingest.sources import resolve_sources
from lake.settings import Settings, get_settings

__all__ = ["INGESTED", "REJECTED", "SKIPPED", "BatchRecord", "IngestReport", "ingest_path"]


@dataclass(frozen=True)
class IngestReport:
    """The batches of one ``ingest_path`` call, one per file, in file order."""

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
    """Ingest a landing file, or every landing file in a folder, each as its own batch.

    Args:
        path: a ``.parquet``, ``.csv`` or ``.jsonl`` file, or a folder of them.
        table: ``raw.<name>`` for every file; default: from each file name (``<table>[-suffix].<ext>``).
        settings: settings to use; default: the process settings.
        progress: show a rich progress display on the terminal.
        chunk_rows: rows per Parquet chunk (bounds memory).

    Returns:
        One batch record per file.

    Raises:
        IngestError: the path does not exist, holds a file of an unsupported format, or names no known table;
            raised before anything is ingested.
    """
    sources = resolve_sources(Path(path), table)
    catalog = load_catalog(settings or get_settings())
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} rows"))
    with Progress(*columns, TimeElapsedColumn(), disable=not progress, transient=True) as bar:
        records = []
        for source in sources:
            task = bar.add_task(f"{source.path.name} -> {source.contract.table_name}")
            records.append(ingest_file(catalog, source, chunk_rows, partial(bar.advance, task)))
            bar.update(task, visible=False)
    return IngestReport(records)
