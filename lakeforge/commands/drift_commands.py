"""Operator command: ``lakeforge drift`` (the champion's recent predictions against its training data).

The models package is imported inside the command: it pulls in XGBoost and matplotlib, which other
``lakeforge`` commands should not pay for.
"""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from lake.errors import ModelsError
from lakeforge.commands.options import parse_time
from lakeforge.console import make_console

console = make_console()


def drift(
    as_of: str = typer.Option(
        None, "--as-of", help="End of the window of recent predictions (ISO, UTC if no zone); default: the newest."
    ),
) -> None:
    """Compare the champion's recent predictions with its training data (PSI per feature and for the score)."""
    from models.drift import SCORE, check_drift

    report = check_drift(as_of=parse_time(as_of, "--as-of", ModelsError))
    if report.score_psi is not None:
        table = Table("feature", "PSI", "drifted", title=f"Drift of model v{report.champion_version}")
        for name, psi in sorted(report.feature_psi.items(), key=lambda item: -item[1]):
            drifted = psi > report.threshold
            table.add_row(name, f"{psi:.3f}", "yes" if drifted else "", style="bold red" if drifted else None)
        score_drifted = report.score_psi > report.threshold
        table.add_section()
        table.add_row(
            f"score ({SCORE})",
            f"{report.score_psi:.3f}",
            "yes" if score_drifted else "",
            style="bold red" if score_drifted else "bold",
        )
        console.print(table)
        console.print(
            f"{report.prediction_count} predictions up to {report.as_of:%Y-%m-%d %H:%M %Z}; "
            f"threshold PSI {report.threshold:g}"
        )
    verdict = "[bold red]retrain due[/]" if report.retrain_due else "[bold green]no retrain due[/]"
    console.print(f"{verdict}: {escape(report.reason)}", soft_wrap=True)
    if report.plot_uri:
        console.print(f"plot: {report.plot_uri}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(drift)
