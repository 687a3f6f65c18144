"""Data generation command: ``lakeforge generate --rows N --days D --seed S --out DIR``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from lake.settings import get_settings
from lakeforge.console import make_console

console = make_console()


def generate(
    rows: int = typer.Option(100_000, "--rows", help="Total transactions over the whole period."),
    days: int = typer.Option(30, "--days", help="Days in the period."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same flags always give the same files."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the files; default: the data home's landing/."),
    fmt: str = typer.Option("parquet", "--format", help="File format: parquet, csv or jsonl."),
    start_day: int | None = typer.Option(
        None, "--start-day", help="Write only day K (0-based): its transactions and the chargebacks reported on it."
    ),
    start_date: datetime = typer.Option(
        "2026-01-01", "--start-date", formats=["%Y-%m-%d"], help="Calendar date of day 0 (UTC)."
    ),
) -> None:
    """Write synthetic card-fraud landing files: customers, cards, merchants, transactions, chargebacks."""
    from lake.generate import write_landing_files  # polars and pyarrow load here, not at CLI start

    folder = out if out is not None else get_settings().landing_dir
    written = write_landing_files(
        folder, rows, days, seed, fmt=fmt, start_day=start_day, start_date=start_date.date(), progress=True
    )
    view = Table("table", "files", "first file", title=f"Landing files in {folder}")
    for table, paths in written.items():
        view.add_row(table, str(len(paths)), paths[0].name if paths else "-")
    console.print(view)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(generate)
