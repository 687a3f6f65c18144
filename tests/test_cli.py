"""The CLI as a user runs it: a real subprocess of the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog import Catalog

from lake.settings import Settings, without_settings


def run_cli(*args: str, env_home: Path, columns: str | None = "200") -> subprocess.CompletedProcess[str]:
    env = without_settings()
    env.pop("COLUMNS", None)
    env.update(LAKEFORGE_HOME=str(env_home), **({"COLUMNS": columns} if columns else {}))
    executable = Path(sys.executable).with_name("lakeforge")
    return subprocess.run([str(executable), *args], capture_output=True, text=True, env=env, timeout=120)


def test_every_command_has_help(settings: Settings) -> None:
    listing = run_cli("--help", env_home=settings.home)
    assert listing.returncode == 0
    commands = [line.split()[1] for line in listing.stdout.splitlines() if line.startswith("│ ") and line.split()[1]]
    assert {"config", "tables", "history"} <= set(commands)
    for command in commands:
        shown = run_cli(command, "--help", env_home=settings.home)
        assert shown.returncode == 0, shown.stderr
        assert "Usage" in shown.stdout


def test_config_prints_effective_settings(settings: Settings) -> None:
    shown = run_cli("config", env_home=settings.home)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["catalog"]["uri"] == f"sqlite:///{settings.home / 'catalog.db'}"


def test_user_errors_are_one_line_without_traceback(settings: Settings) -> None:
    shown = run_cli("history", "raw.nope", env_home=settings.home)
    assert shown.returncode == 1
    assert "no table 'raw.nope'" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_output_without_a_terminal_is_laid_out_wide_unless_columns_says_otherwise(
    settings: Settings, catalog: Catalog
) -> None:
    """Rich assumed 80 columns without a terminal (a log file, cron) and cut names and numbers short ("2,…")."""
    rows = pa.table({"customer_id": pa.array([f"c{n}" for n in range(12_345)])})
    catalog.create_table("curated.customers_with_a_rather_long_table_name", rows.schema).append(rows)

    logged = run_cli("tables", env_home=settings.home, columns=None)
    narrow = run_cli("tables", env_home=settings.home, columns="60")

    assert logged.returncode == 0, logged.stderr
    assert "curated.customers_with_a_rather_long_table_name" in logged.stdout and "12,345" in logged.stdout
    assert "…" not in logged.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60
