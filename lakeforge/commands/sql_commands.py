"""SQL endpoint command: serve the lake over Trino's protocol to BI tools."""

from __future__ import annotations

import logging

import typer
from rich.logging import RichHandler

from lake.settings import get_settings
from lakeforge.console import make_console

console = make_console(stderr=True)


def sql(
    host: str | None = typer.Option(None, help="Address to bind; default LAKEFORGE_SQL__HOST (127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port; default LAKEFORGE_SQL__PORT (8080, Trino's)."),
) -> None:
    """Serve every Iceberg table over Trino's client protocol (catalog 'lake'), until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=console)])
    settings = get_settings()
    bound_host, bound_port = host or settings.sql.host, port or settings.sql.port
    console.print(
        f"Trino-protocol endpoint on http://{bound_host}:{bound_port} (catalog '{settings.sql.catalog}'); "
        f"connect with: trino://USER@{bound_host}:{bound_port}/{settings.sql.catalog}"
    )
    from serving.sql.server import serve  # imported here so other commands start without the server's stack

    serve(settings, host=bound_host, port=bound_port)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command()(sql)
