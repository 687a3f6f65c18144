"""Model commands: ``train`` (Ray Train XGBoost, evaluation, registry, champion gate) and ``models list|show|promote``.

Ray, Feast and XGBoost are imported inside each command: importing them takes seconds, which other
``lakeforge`` commands should not pay.
"""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from rich.table import Table

from lake.errors import ModelsError
from lakeforge.commands.options import parse_time
from lakeforge.console import make_console

console = make_console()
models_app = typer.Typer(
    help="The model registry in the lake (ml.model_versions, ml.model_aliases).", no_args_is_help=True
)


def train(
    workers: int = typer.Option(2, help="Ray Train workers."),
    cutoff: str = typer.Option(None, help="Labels known at this date/time (ISO, UTC if no zone); default: now."),
    label_maturity_days: float = typer.Option(
        0.0, help="Leave out transactions younger than this many days at the cutoff (chargebacks still to come)."
    ),
    margin: float = typer.Option(0.01, help="PR-AUC gain over the champion needed to become champion."),
    reproduce: int = typer.Option(
        None, help="Rebuild VERSION's training set from its snapshots, check its hash, retrain."
    ),
) -> None:
    """Train the fraud model on Ray from Feast's fraud_model_v1, evaluate it, register it, apply the champion gate."""
    from models.training_run import metrics_line, train_and_register

    outcome = train_and_register(
        cutoff=parse_time(cutoff, "--cutoff", ModelsError),
        maturity=timedelta(days=label_maturity_days),
        workers=workers,
        margin=margin,
        reproduce=reproduce,
        console=make_console(stderr=True),
    )
    mv, metrics = outcome.model_version, outcome.model_version.metrics
    console.print(f"registered model v{mv.version} as {outcome.decision.alias}: {outcome.decision.reason}")
    console.print(metrics_line(metrics))
    console.print(f"report: {outcome.report_uri}")


@models_app.command("list")
def list_versions() -> None:
    """List every model version: aliases, test PR-AUC against the rules baseline, rows trained on."""
    from models.registry import list_model_versions

    table = Table("version", "aliases", "created", "PR-AUC", "baseline PR-AUC", "rows", "cutoff")
    for mv in list_model_versions():
        table.add_row(
            str(mv.version),
            ", ".join(mv.aliases),
            f"{mv.created_at:%Y-%m-%d %H:%M}",
            f"{mv.metrics.get('pr_auc', float('nan')):.4f}",
            f"{mv.metrics.get('baseline_pr_auc', float('nan')):.4f}",
            f"{mv.lineage.get('row_count', '')}",
            str(mv.lineage.get("cutoff", "")),
        )
    console.print(table)


@models_app.command()
def show(
    version: int = typer.Argument(None, help="Version number; default: the champion."),
    alias: str = typer.Option("champion", help="Alias to show when no version is given."),
) -> None:
    """Print one model version as JSON: features, thresholds, metrics, parameters, lineage, artifact folder."""
    from dataclasses import asdict

    from models.registry import get_model_version

    print(json.dumps(asdict(get_model_version(version, alias)), indent=2, default=str))


@models_app.command()
def promote(
    version: int = typer.Argument(..., help="Version to promote."),
    alias: str = typer.Option("champion", help="champion or challenger."),
) -> None:
    """Point an alias at a version by hand (serving picks up a new champion on its next poll)."""
    from models.registry import promote_model_version

    mv = promote_model_version(version, alias)
    console.print(f"model v{mv.version} is now {alias} (aliases: {', '.join(mv.aliases)})")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(train)
    app.add_typer(models_app, name="models")
