"""Scoring service command: run the fraud-scoring API on Ray Serve until Ctrl-C."""

from __future__ import annotations

import time

import typer

from lake.settings import get_settings
from lakeforge.console import make_console

console = make_console(stderr=True)


def serve(
    port: int | None = typer.Option(None, help="HTTP port; default LAKEFORGE_SCORING__PORT (8000)."),
) -> None:
    """Serve POST /v1/score with the champion model on online features (local Ray, or LAKEFORGE_RAY__ADDRESS)."""
    settings = get_settings()
    if not settings.scoring.api_keys:
        console.print(
            "[yellow]warning:[/] API keys are off; set LAKEFORGE_SCORING__API_KEYS='[\"key\"]' to require them"
        )
    from serving.scoring.service import start_service, stop_service  # Ray and Feast load only for this command

    with console.status("starting Ray and the scoring replicas ..."):
        url = start_service(settings, port=port)
    console.print(f"scoring on {url}/v1/score (OpenAPI: {url}/docs, metrics: {url}/metrics); Ctrl-C stops it")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        with console.status("stopping: writing buffered predictions ..."):
            stop_service()
        console.print("scoring stopped; every prediction is in ml.predictions")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(serve)
