"""Where a model came from, beyond its data: code commit, dbt manifest, library versions."""

from __future__ import annotations

import hashlib
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from lake.settings import PROJECT_ROOT

DBT_MANIFEST = PROJECT_ROOT / "dbt_project" / "target" / "manifest.json"
"""Written by every dbt run; its hash pins the SQL that built the feature tables."""
LIBRARIES = ("xgboost-cpu", "ray", "feast", "pyiceberg", "pyarrow", "duckdb", "scikit-learn", "pandas", "numpy")


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or ``None`` when it does not exist."""
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The checkout's HEAD commit, with ``-dirty`` when tracked files changed; ``None`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape a model."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions
