"""Transform commands: run the dbt project (``lakeforge transform [dbt args]``)."""

from __future__ import annotations

from contextlib import nullcontext

import typer
from rich.table import Table

from lake.errors import TransformError
from lakeforge.console import make_console

console = make_console()


def transform(ctx: typer.Context) -> None:
    """Run dbt on dbt_project/ with the given dbt arguments (default: build), then list what it published.

    Commands that write tables (build, run, ...) and cycles take turns: one is refused while `lakeforge run` is in
    progress, and a cycle started meanwhile is refused in turn.

    Examples: `lakeforge transform`, `lakeforge transform build --select features`,
    `lakeforge transform build --full-refresh`, `lakeforge transform source freshness`.
    """
    from lake.catalog import load_catalog
    from lake.dbt_runner import published_by, run_dbt, writes_tables  # dbt takes seconds to import
    from lake.run_lock import run_lock

    catalog = load_catalog()
    # a write during a cycle could make the cycle's publish refuse and roll it back: the two take turns
    with run_lock(catalog) if writes_tables(ctx.args) else nullcontext():
        run = run_dbt(ctx.args)
    published = published_by(catalog, run.invocation_id)
    if published:
        view = Table("table", "rows", "rows written", "operation", "snapshot", title="Published by this dbt run")
        for table in published:
            view.add_row(
                table.name, f"{table.rows:,}", f"{table.rows_added:,}", table.operation, str(table.snapshot_id)
            )
        console.print(view)
    if not run.success:
        raise TransformError(
            f"dbt reported failures ({run.failures() or 'see its log above'}); models whose tests failed were held "
            "back: their tables keep the previous published snapshot"
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(transform)
