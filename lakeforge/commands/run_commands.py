"""Operator command: ``lakeforge run``, one cycle (ingest, dbt build, materialize, drift, retrain), and its history.

dbt, Feast, Ray and XGBoost are imported inside the command: importing them takes seconds, which other
``lakeforge`` commands should not pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from lake.errors import ModelsError
from lakeforge.commands.options import parse_time
from lakeforge.console import make_console

if TYPE_CHECKING:
    from lake.pipeline import PipelineRun

console = make_console()


def run(
    landing: Path = typer.Option(None, "--landing", help="Folder of new landing files; default: <data home>/landing."),
    as_of: str = typer.Option(
        None, "--as-of", help="The lake's clock (ISO, UTC if no zone); default: the newest raw transaction."
    ),
    workers: int = typer.Option(None, "--workers", help="Ray Train workers of a retrain; default: 2 (settings)."),
    from_start: bool = typer.Option(False, "--from-start", help="Start at the first step even if the last run failed."),
    history: bool = typer.Option(False, "--history", help="List the recent runs from ops.pipeline_runs and stop."),
    limit: int = typer.Option(10, "--limit", help="How many runs --history lists."),
) -> None:
    """Run one cycle: ingest new files, dbt build, materialize features, check drift, retrain and promote when due.

    A step with nothing to do is skipped with its reason. A failed step is rolled back and the next run resumes at it.
    """
    if history:
        _print_history(limit)
        return
    from lake.settings import get_settings
    from models.cycle import run_cycle

    settings = get_settings()
    report = run_cycle(
        settings,
        landing=landing,
        as_of=parse_time(as_of, "--as-of", ModelsError),
        console=console,
        workers=workers or settings.pipeline.workers,
        resume=not from_start,
    )
    summary = Table("step", "status", "rows", "snapshots", "seconds", "detail", title=f"Run {report.run_id}")
    for record in report.records:
        summary.add_row(
            record.step,
            record.status,
            f"{record.rows:,}" if record.rows else "",
            str(len(record.snapshots)) if record.snapshots else "",
            f"{record.seconds:.1f}",
            escape(record.detail),
        )
    console.print(summary)
    console.print(f"recorded as run {report.run_id} in ops.pipeline_runs", highlight=False)
    if report.failed is not None:
        console.print(
            f"[bold red]{report.failed.step} failed:[/] {escape(report.failed.error or '')}\n"
            f"{report.failed.detail}; the next `lakeforge run` resumes from {report.failed.step} "
            "(`lakeforge run --from-start` starts over, e.g. to ingest new files first)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _print_history(limit: int) -> None:
    from lake.catalog import load_catalog
    from lake.pipeline import RAN, recent_runs

    runs = recent_runs(load_catalog(), limit)
    if not runs:
        console.print("no runs recorded yet in ops.pipeline_runs; start one with `lakeforge run`")
        return
    table = Table("run", "started (UTC)", "outcome", "steps that ran", "seconds", title="Recent runs")
    for pipeline_run in runs:
        ran = [record.step for record in pipeline_run.records if record.status == RAN]
        table.add_row(
            str(pipeline_run.run_id),
            f"{pipeline_run.started_at:%Y-%m-%d %H:%M:%S}",
            _outcome(pipeline_run),
            ", ".join(ran) or "none (nothing to do)",
            f"{pipeline_run.seconds:.1f}",
        )
    console.print(table)


def _outcome(pipeline_run: PipelineRun) -> str:
    failed = pipeline_run.failed
    outcome = f"failed at {failed.step}" if failed else "ok"
    resumed = pipeline_run.resumed_from
    return f"{outcome}, resumed run {resumed}" if resumed else outcome


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(run)
