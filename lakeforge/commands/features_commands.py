"""Feature-store commands: apply the Feast repo, materialize, freshness, serve, and the Feast environment.

Feast is imported inside each command: importing it takes seconds, which other ``lakeforge`` commands
should not pay.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from lake.errors import FeaturesError
from lakeforge.commands.options import parse_time
from lakeforge.console import make_console

console = make_console()
features_app = typer.Typer(help="Feast feature store on the lake (feature_repo/).", no_args_is_help=True)


@features_app.command()
def env() -> None:
    """Print the environment feature_store.yaml reads, as shell exports: eval "$(lakeforge features env)"."""
    from lake.feast.environment import shell_exports

    print(shell_exports())


@features_app.command()
def apply() -> None:
    """Register feature_repo/ (entities, sources, views, services) and create the online tables."""
    from lake.feast.environment import apply_feature_repo

    apply_feature_repo()


@features_app.command()
def materialize(
    end: str = typer.Option(None, help="Latest event time to load (ISO; default: now, UTC)."),
    start: str = typer.Option(None, help="Earliest event time (ISO); unset: continue each view incrementally."),
    view: list[str] = typer.Option(None, help="Feature view to load (repeatable); default: every online view."),
) -> None:
    """Load the latest feature values into the online store, incrementally unless --start is given."""
    from lake.feast.environment import open_feature_store
    from lake.feast.materialization import (
        MaterializedRange,
        materialize_incremental_views,
        materialize_views,
    )

    store = open_feature_store()
    until = parse_time(end, "--end", FeaturesError) or datetime.now(UTC)
    since = parse_time(start, "--start", FeaturesError)

    def announce(step: MaterializedRange) -> None:
        console.print(f"materializing [bold]{step.view}[/]: {step.rows:,} entities, {step.start} .. {step.end}")

    with console.status("materializing ..."):
        if since is None:
            done = materialize_incremental_views(store, until, view or None, on_view=announce)
        else:
            done = materialize_views(store, since, until, view or None, on_view=announce)
    report = Table("view", "from", "to", "entity rows written", "rows/s", title="Materialized")
    for step in done:
        report.add_row(step.view, str(step.start), str(step.end), f"{step.rows:,}", f"{step.rows_per_second:,.0f}")
    console.print(report)
    if all(step.start == step.end for step in done):
        console.print(f"[yellow]already up to date: every view is materialized up to {until}; pass a later --end[/]")
    elif not any(step.rows for step in done):
        console.print(
            "[yellow]nothing written: no feature rows in these ranges. A first run starts at --end minus the "
            "view's TTL; pass --end near the newest data or an explicit --start[/]"
        )


@features_app.command()
def freshness() -> None:
    """Show each feature view's last materialized end time (how stale online values may be)."""
    from lake.feast.environment import open_feature_store
    from lake.feast.materialization import feature_freshness

    report = Table("view", "materialized up to", title="Online feature freshness")
    for name, last in feature_freshness(open_feature_store()).items():
        report.add_row(name, str(last) if last else "never")
    console.print(report)


@features_app.command()
def serve(port: int = typer.Option(6566, help="Port of Feast's HTTP feature server.")) -> None:
    """Run Feast's HTTP feature server for feature_repo/ (POST /get-online-features)."""
    from lake.feast.environment import FEATURE_REPO, export_feast_environment

    export_feast_environment()
    feast = str(Path(sys.executable).with_name("feast"))
    os.execv(feast, [feast, "--chdir", str(FEATURE_REPO), "serve", "--host", "127.0.0.1", "--port", str(port)])


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.add_typer(features_app, name="features")
