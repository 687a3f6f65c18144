"""Storage-layer commands: config, tables, history."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from lake.settings import get_settings
from lakeforge.console import make_console

console = make_console()


def config() -> None:
    """Print the effective settings (environment and profile defaults), secrets masked."""
    console.print_json(json.dumps(get_settings().masked()))


def tables() -> None:
    """List every Iceberg table: rows, data files, size, snapshots and last commit time."""
    from lake.catalog import load_catalog  # pyiceberg and pyarrow load here, not at CLI start (--help stays fast)
    from lake.tables import list_table_stats

    view = Table(title="Lakeforge tables")
    view.add_column("table", no_wrap=True)
    for heading in ("rows", "files", "size", "snapshots"):
        view.add_column(heading, justify="right", no_wrap=True)
    view.add_column("last commit (UTC)", no_wrap=True)
    for stats in list_table_stats(load_catalog()):
        view.add_row(
            stats.name,
            f"{stats.rows:,}",
            f"{stats.files:,}",
            _human_bytes(stats.size_bytes),
            str(stats.snapshots),
            stats.last_commit.strftime("%Y-%m-%d %H:%M") if stats.last_commit else "-",
        )
    console.print(view)


def history(table: str = typer.Argument(..., help="Table as namespace.name, e.g. raw.transactions.")) -> None:
    """List a table's snapshots, oldest first, with their summaries."""
    from lake.catalog import load_catalog
    from lake.tables import snapshot_history

    view = Table("snapshot id", "committed (UTC)", "operation", "summary", title=f"History of {table}")
    for snap in snapshot_history(load_catalog(), table):
        summary = ", ".join(f"{k}={v}" for k, v in sorted(snap.summary.items()))
        view.add_row(str(snap.snapshot_id), snap.committed_at.strftime("%Y-%m-%d %H:%M:%S"), snap.operation, summary)
    console.print(view)


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(config)
    app.command()(tables)
    app.command()(history)
