"""Operator command: ``lakeforge maintain [--table NAME ...] [--retention-days D] [--dry-run]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.filesize import decimal
from rich.table import Table

from lakeforge.console import make_console

if TYPE_CHECKING:
    from lake.maintenance import TableMaintenance

console = make_console()


def maintain(
    tables: list[str] | None = typer.Option(
        None,
        "--table",
        metavar="NAME",
        help="Table to maintain, as namespace.name; repeat for several. Default: every table.",
    ),
    retention_days: float | None = typer.Option(
        None, "--retention-days", min=0, help="Expire snapshots older than this; default: the maintenance settings (7)."
    ),
    orphan_age_hours: float | None = typer.Option(
        None, "--orphan-age-hours", min=0, help="Delete unreferenced files only when older than this; default: 1."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done and change nothing."),
) -> None:
    """Compact small files, expire old snapshots (keeping registered and dbt models' inputs), delete orphan files."""
    from lake.catalog import load_catalog
    from lake.maintenance import maintain_tables
    from lake.settings import get_settings
    from models.registry import registered_snapshots  # xgboost loads here, not at CLI start

    settings = get_settings()
    overrides = {"snapshot_retention_days": retention_days, "orphan_min_age_hours": orphan_age_hours}
    options = settings.maintenance.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    results = maintain_tables(
        load_catalog(settings),
        tables or (),
        options,
        protected=registered_snapshots(settings),
        dry_run=dry_run,
        progress=True,
    )
    print_results(results, dry_run)


def _change(pair: tuple[int, int], bytes_: bool = False) -> str:
    show = decimal if bytes_ else "{:,}".format
    return f"{show(pair[0])} -> {show(pair[1])}"


def _sum(pairs: list[tuple[int, int]]) -> tuple[int, int]:
    return sum(before for before, _ in pairs), sum(after for _, after in pairs)


def print_results(results: list[TableMaintenance], dry_run: bool) -> None:
    """One row per table (before -> after) and a total line."""
    title = "Table maintenance" + (" (dry run: nothing changed, 'after' is projected)" if dry_run else "")
    view = Table(title=title)
    view.add_column("table")
    for heading in ("data files", "data size", "stored files", "stored size", "snapshots expired", "orphans removed"):
        view.add_column(heading, justify="right")
    view.add_column("compaction")
    for result in results:
        view.add_row(
            result.table,
            _change(result.data_files),
            _change(result.data_bytes, bytes_=True),
            _change(result.stored_files),
            _change(result.stored_bytes, bytes_=True),
            f"{result.snapshots_expired:,}",
            f"{result.orphans_removed:,}",
            result.compaction,
        )
    view.add_section()
    view.add_row(
        "total",
        _change(_sum([r.data_files for r in results])),
        _change(_sum([r.data_bytes for r in results]), bytes_=True),
        _change(_sum([r.stored_files for r in results])),
        _change(_sum([r.stored_bytes for r in results]), bytes_=True),
        f"{sum(r.snapshots_expired for r in results):,}",
        f"{sum(r.orphans_removed for r in results):,}",
        f"{sum(r.compacted_files for r in results):,} small files merged" + (" (planned)" if dry_run else ""),
    )
    console.print(view)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(maintain)
