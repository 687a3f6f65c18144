"""The CLI as a user runs it: a real subprocess of the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lake.settings import Settings, without_settings


def run_cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    env = without_settings()
    env.update(LAKEFORGE_HOME=str(env_home), COLUMNS="200")
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
