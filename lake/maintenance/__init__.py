"""Table maintenance (``lakeforge maintain``): compact small files, expire old snapshots, delete unreachable files.

Per table, in this order: (1) compaction merges the current snapshot's small files (:mod:`.compaction`);
(2) snapshots older than the retention are expired, except the heads of branches and tags (``main`` and a
staged write-audit-publish ``audit`` snapshot), the snapshots dbt models were last built from (their next
incremental build asks what changed since, :func:`lake.materialize.recorded_inputs`) and the snapshots a caller
protects, i.e. those registered models were trained on, so their training sets can still be rebuilt by time
travel (``lake`` does not read the model registry; the CLI passes them in); (3) files under the table's
location that no remaining snapshot or metadata file reaches are deleted: at once if only expired snapshots used
them, otherwise (never-committed files) only when older than a safety age, so a concurrent writer's files in
flight survive.

A dry run changes nothing and projects each step on the table as it is now (compaction output counted as one
file per group); a real run compacts first, so the snapshot it supersedes may also expire in the same run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lake.catalog import list_table_names, load_table
from lake.maintenance.compaction import CompactionPlan, compact_table, plan_compaction
from lake.maintenance.files import ReachableFiles
from lake.materialize import recorded_inputs
from lake.settings import MaintenanceSettings
from lake.stored_files import StoredFile, delete_stored_files, list_stored_files, table_file_system

__all__ = ["TableMaintenance", "maintain_table", "maintain_tables", "snapshots_to_expire"]


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did to one table (in a dry run: would do). Pairs are (before, after).

    Attributes:
        table: ``namespace.table``.
        data_files: data files of the current snapshot (what every reader opens).
        data_bytes: their bytes.
        stored_files: every file under the table's location (data, manifests, metadata).
        stored_bytes: their bytes.
        snapshots_expired: snapshots removed from the table's history.
        orphans_removed: files deleted because nothing left in the table's metadata reaches them.
        compacted_files: small files merged (0 when not compacted).
        compaction: what compaction did, or why it did nothing.
        dry_run: nothing was changed; the "after" values are projections.
    """

    table: str
    data_files: tuple[int, int]
    data_bytes: tuple[int, int]
    stored_files: tuple[int, int]
    stored_bytes: tuple[int, int]
    snapshots_expired: int
    orphans_removed: int
    compacted_files: int
    compaction: str
    dry_run: bool


def snapshots_to_expire(table: Table, older_than: datetime, protected: Collection[int] = ()) -> list[int]:
    """Ids of the snapshots committed before ``older_than`` that no branch, tag or ``protected`` id keeps."""
    kept = {ref.snapshot_id for ref in table.metadata.refs.values()} | set(protected)
    cutoff_ms = int(older_than.timestamp() * 1000)
    return sorted(
        snapshot.snapshot_id
        for snapshot in table.metadata.snapshots
        if snapshot.timestamp_ms < cutoff_ms and snapshot.snapshot_id not in kept
    )


def _live_data(table: Table) -> tuple[int, int]:
    snapshot = table.current_snapshot()
    summary = snapshot.summary if snapshot is not None and snapshot.summary is not None else {}
    return int(summary.get("total-data-files", 0)), int(summary.get("total-files-size", 0))


def _compaction_note(plan: CompactionPlan, written: int, dry_run: bool) -> str:
    if not plan.groups:
        return plan.reason
    partitions = len({group[0].partition for group in plan.groups})
    verb = "would merge" if dry_run else "merged"
    into = f"about {len(plan.groups)}" if dry_run else str(written)
    return f"{verb} {plan.files} small files into {into} ({partitions} partition{'s' * (partitions != 1)})"


def maintain_table(
    catalog: Catalog,
    name: str,
    options: MaintenanceSettings,
    protected: Collection[int] = (),
    dry_run: bool = False,
) -> TableMaintenance:
    """Compact, expire snapshots and delete unreachable files of one table (see the module docstring).

    Args:
        catalog: the Iceberg catalog.
        name: ``namespace.table``.
        options: retention, safety age and compaction thresholds.
        protected: snapshot ids of this table to keep whatever their age (registered models' inputs).
        dry_run: change nothing; report what would be done.

    Raises:
        CatalogError: the table does not exist.
    """
    table = load_table(catalog, name)
    fs, root = table_file_system(table.io, table.location())
    stored_before = list_stored_files(fs, root)
    data_before = _live_data(table)
    if dry_run:
        plan, written = plan_compaction(table, options), 0
    else:
        plan, written = compact_table(table, options)
        table = table.refresh()
    now = datetime.now(UTC)
    expired = snapshots_to_expire(table, now - timedelta(days=options.snapshot_retention_days), protected)
    reachable = ReachableFiles(table.io)
    reachable_before = reachable.of(table.metadata, table.metadata_location, table.metadata.snapshots)
    if dry_run:
        kept = [snapshot for snapshot in table.metadata.snapshots if snapshot.snapshot_id not in expired]
        reachable_after = reachable.of(table.metadata, table.metadata_location, kept)
        stored = stored_before
    else:
        if expired:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
            table = table.refresh()
        reachable_after = reachable.of(table.metadata, table.metadata_location, table.metadata.snapshots)
        stored = list_stored_files(fs, root)
    safe_before = now - timedelta(hours=options.orphan_min_age_hours)
    orphans = [
        stored_file
        for stored_file in stored
        if stored_file.path not in reachable_after
        and (stored_file.path in reachable_before or stored_file.modified < safe_before)
    ]
    if not dry_run:
        delete_stored_files(fs, [orphan.path for orphan in orphans])
    data_after = (data_before[0] - plan.files + len(plan.groups), data_before[1]) if dry_run else _live_data(table)
    return TableMaintenance(
        table=name,
        data_files=(data_before[0], data_after[0]),
        data_bytes=(data_before[1], data_after[1]),
        stored_files=(len(stored_before), len(stored) - len(orphans)),
        stored_bytes=(_total(stored_before), _total(stored) - _total(orphans)),
        snapshots_expired=len(expired),
        orphans_removed=len(orphans),
        compacted_files=plan.files,
        compaction=_compaction_note(plan, written, dry_run),
        dry_run=dry_run,
    )


def _total(files: Sequence[StoredFile]) -> int:
    return sum(stored_file.size for stored_file in files)


def maintain_tables(
    catalog: Catalog,
    names: Sequence[str] = (),
    options: MaintenanceSettings | None = None,
    protected: Mapping[str, Collection[int]] | None = None,
    dry_run: bool = False,
    progress: bool = False,
) -> list[TableMaintenance]:
    """:func:`maintain_table` for each named table (default: every table in the catalog), one after another.

    Args:
        catalog: the Iceberg catalog.
        names: ``namespace.table`` names; empty: all tables.
        options: retention, safety age and compaction thresholds; default: the defaults of
            :class:`MaintenanceSettings`.
        protected: ``{table: snapshot ids}`` to keep whatever their age, besides the inputs dbt models recorded.
        dry_run: change nothing; report what would be done.
        progress: show which table is being maintained on the terminal.

    Raises:
        CatalogError: a named table does not exist (checked before any table is touched).
    """
    options = options or MaintenanceSettings()
    kept = recorded_inputs(catalog)
    for table, snapshot_ids in (protected or {}).items():
        kept.setdefault(table, set()).update(snapshot_ids)
    names = list(names) or list_table_names(catalog)
    for name in names:
        load_table(catalog, name)
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("maintaining", total=len(names))
        for name in names:
            bar.update(task, description=f"maintaining {name}")
            results.append(maintain_table(catalog, name, options, kept.get(name, ()), dry_run))
            bar.advance(task)
    return results
