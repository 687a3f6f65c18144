"""Run the dbt project in-process (dbt's programmatic ``dbtRunner``) and report what it published.

``lakeforge transform``, the benchmark and the tests all go through :func:`run_dbt`, so the project runs the
same way from anywhere as ``cd dbt_project && dbt ...`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import cli, dbtRunner, dbtRunnerResult
from dbt_common.invocation import get_invocation_id
from pyiceberg.catalog import Catalog

from lake.catalog import list_table_names
from lake.errors import TransformError
from lake.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
"""The analysts' dbt project (its own ``profiles.yml`` sits next to ``dbt_project.yml``)."""
MODEL_NAMESPACES = ("staging", "curated", "features")
"""Namespaces the project writes."""


WRITING_COMMANDS = frozenset({"build", "clone", "retry", "run", "run-operation", "seed", "snapshot"})
"""dbt commands that may write the lake's tables; the others (``test``, ``docs``, ``source``, ``ls``, ...) only read."""
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
"""dbt result statuses of a node that failed (a model or test that errored, a test that found rows)."""


@dataclass(frozen=True)
class DbtRun:
    """Outcome of one dbt invocation."""

    success: bool
    invocation_id: str
    result: dbtRunnerResult

    def failures(self, shown: int = 5) -> str:
        """The nodes dbt reported as failed, as ``name (status)``: the first ``shown`` by name, then how many more
        (dbt's own log lists them all); empty when its result lists none."""
        results = getattr(self.result.result, "results", None) or []
        failed = sorted(f"{item.node.name} ({item.status})" for item in results if str(item.status) in FAILED_STATUSES)
        more = f" and {len(failed) - shown} more" if len(failed) > shown else ""
        return ", ".join(failed[:shown]) + more


@dataclass(frozen=True)
class PublishedTable:
    """A table whose published snapshot was written by a given dbt invocation."""

    name: str
    rows: int
    rows_added: int
    operation: str
    snapshot_id: int


def run_dbt(args: Sequence[str], project_dir: Path = DBT_PROJECT_DIR) -> DbtRun:
    """Invoke dbt with ``args`` on the project (``build`` when empty), as the ``dbt`` command would.

    Args:
        args: dbt's own arguments, e.g. ``["build", "--select", "staging"]``.
        project_dir: the dbt project; its ``profiles.yml`` is used unless ``--profiles-dir`` is passed.

    Returns:
        Whether every node succeeded, the invocation id, and dbt's own result object.

    Raises:
        TransformError: dbt could not run at all (bad arguments, unreadable project or profile).
    """
    argv = list(args) or ["build"]
    if "--project-dir" not in argv:
        argv += ["--project-dir", str(project_dir)]
    if "--profiles-dir" not in argv:
        argv += ["--profiles-dir", str(project_dir)]
    DuckDBConnectionManager.close_all_connections()
    try:
        result = dbtRunner().invoke(argv)
    finally:
        DuckDBConnectionManager.close_all_connections()
    if result.exception is not None:
        raise TransformError(f"dbt could not run 'dbt {' '.join(argv)}': {result.exception}")
    return DbtRun(success=bool(result.success), invocation_id=get_invocation_id(), result=result)


def writes_tables(args: Sequence[str]) -> bool:
    """Whether ``dbt <args>`` may write tables: its command (the first argument that names one of dbt's, ``build``
    when none does) is one of :data:`WRITING_COMMANDS`."""
    return next((arg for arg in args if arg in cli.commands), "build") in WRITING_COMMANDS


def published_by(catalog: Catalog, invocation_id: str) -> list[PublishedTable]:
    """The tables whose current (published) snapshot was written by the dbt invocation ``invocation_id``.

    Reads only table metadata: the snapshot summary records ``dbt.invocation-id`` and ``dbt.model``.
    """
    published = []
    for name in list_table_names(catalog):
        if name.split(".", 1)[0] not in MODEL_NAMESPACES:
            continue
        snapshot = catalog.load_table(name).current_snapshot()
        summary = snapshot.summary if snapshot else None
        if snapshot is None or summary is None:
            continue
        properties = summary.additional_properties
        if properties.get("dbt.invocation-id") != invocation_id:
            continue
        published.append(
            PublishedTable(
                name=name,
                rows=int(properties.get("total-records", 0)),
                rows_added=int(properties.get("added-records", 0)),
                operation=summary.operation.value,
                snapshot_id=snapshot.snapshot_id,
            )
        )
    return published
