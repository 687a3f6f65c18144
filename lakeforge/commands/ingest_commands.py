"""Ingestion command: ``lakeforge ingest PATH [--table raw.NAME]``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from lakeforge.console import make_console

if TYPE_CHECKING:
    from lake.ingest import IngestReport

console = make_console()


def ingest(
    path: Path = typer.Argument(..., help="A .parquet, .csv or .jsonl landing file, or a folder of them."),
    table: str | None = typer.Option(None, "--table", help="Target raw.NAME; default: from each file name."),
) -> None:
    """Check landing files against their contracts and append them to raw tables (bad rows to quarantine)."""
    from lake.ingest import ingest_path  # pyarrow.dataset and pandas load here, not at CLI start

    report = ingest_path(path, table=table, progress=True)
    print_report(report)
    if report.rejected:
        raise typer.Exit(1)


def print_report(report: IngestReport) -> None:
    """The summary of a run: one line per file, quarantine reasons, schema changes, rejections."""
    files = Table("file", "table", "status", "read", "appended", "quarantined", "seconds", title="Ingestion")
    reasons = Table("table", "reason", "rows", title="Quarantined rows by reason")
    for batch in report.batches:
        files.add_row(
            Path(batch.source_file).name,
            batch.table_name,
            batch.status,
            f"{batch.rows_read:,}",
            f"{batch.rows_appended:,}",
            f"{batch.rows_quarantined:,}",
            f"{batch.duration_s:.2f}",
        )
        for reason, rows in sorted(batch.quarantine_reasons.items()):
            reasons.add_row(f"{batch.table_name}_quarantine", reason, f"{rows:,}")
    files.add_row("total", "", "", f"{report.rows_read:,}", f"{report.rows_appended:,}", f"{report.rows_quarantined:,}")
    console.print(files)
    if reasons.row_count:
        console.print(reasons)
    for batch in report.batches:
        if batch.added_columns:
            console.print(
                f"{batch.table_name}: added nullable column(s) {', '.join(batch.added_columns)}", soft_wrap=True
            )
        if batch.rejection_reason:
            console.print(
                f"[bold red]rejected[/] {batch.source_file}: {batch.rejection_reason} (nothing appended)",
                soft_wrap=True,
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(ingest)
