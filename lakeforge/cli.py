"""The ``lakeforge`` command: one thin Typer face over the packages that own the work.

Each area registers its commands from a module in :mod:`lakeforge.commands`; a command parses its flags and
calls one function of the package that does the work. Any :class:`~lake.errors.LakeforgeError` is printed as
one line and exits with status 1 (no traceback for a user's mistake).
"""

from __future__ import annotations

import sys

import typer

from lake.errors import LakeforgeError
from lakeforge.commands import (
    drift_commands,
    features_commands,
    generate_commands,
    ingest_commands,
    lake_commands,
    maintain_commands,
    models_commands,
    run_commands,
    serve_commands,
    sql_commands,
    transform_commands,
)
from lakeforge.console import make_console

app = typer.Typer(
    name="lakeforge",
    help="Lakeforge: Iceberg lake, dbt transforms, Feast features, Ray training and serving, Trino-protocol SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for module in (
    lake_commands,
    ingest_commands,
    generate_commands,
    transform_commands,
    sql_commands,
    features_commands,
    models_commands,
    serve_commands,
    drift_commands,
    maintain_commands,
    run_commands,
):
    module.register(app)


def main() -> None:
    """Console-script entry point: run the app and turn user errors into one readable line."""
    try:
        app()
    except LakeforgeError as error:
        make_console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
