"""Merge a table's small data files into few larger ones, partition by partition, in one atomic commit.

Streaming and incremental writers (the prediction log, the query log, dbt appends) add a few small files per
commit; every reader then opens them all. Compaction reads the small files of a partition through pyiceberg's
``ArrowScan`` (so schema evolution is honoured), writes the same rows back with pyiceberg's partitioned writer,
and swaps old files for new in one overwrite snapshot on ``main``: readers see either the old files or the new
ones, never both, and the rows are unchanged. Only files of the current partition spec are touched.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.typedef import Record
from pyiceberg.utils.bin_packing import ListPacker

from lake.catalog import LakeTransaction, merging_overwrite
from lake.materialize import AUDIT_BRANCH
from lake.settings import MaintenanceSettings

SNAPSHOT_PROPERTY = "lakeforge.maintenance"
"""Summary property marking the snapshots maintenance writes."""
COMPACTION = "compaction"
"""Value of :data:`SNAPSHOT_PROPERTY` on a compaction's snapshot: the same rows, in other files."""
COMMIT_ATTEMPTS = 3
"""Plans tried before giving up when concurrent writers keep committing (pyiceberg's overwrite is serializable,
so an append landing meanwhile conflicts even though compaction leaves the rows as they are)."""
_MB = 1024 * 1024


@dataclass(frozen=True)
class CompactionPlan:
    """The groups of small files to merge (each group one partition's worth of about the target size), and why."""

    groups: list[list[DataFile]] = field(default_factory=list)
    reason: str = ""

    @property
    def files(self) -> int:
        """Small files the plan rewrites."""
        return sum(len(group) for group in self.groups)


def plan_compaction(table: Table, options: MaintenanceSettings) -> CompactionPlan:
    """Pick the small files of the current snapshot worth merging; an empty plan says why there are none.

    A partition qualifies when it holds at least ``options.min_small_files`` files smaller than
    ``options.small_file_mb``; its small files are bin-packed into groups of at most ``options.target_file_mb``.
    Tables with a write staged on the ``audit`` branch are left alone: moving ``main`` under a staged
    write-audit-publish snapshot would make its publication fail.
    """
    snapshot = table.current_snapshot()
    if snapshot is None:
        return CompactionPlan(reason="no snapshot")
    if AUDIT_BRANCH in table.metadata.refs:
        return CompactionPlan(reason=f"skipped: a write is staged on the '{AUDIT_BRANCH}' branch")
    files = [
        entry.data_file
        for manifest in snapshot.manifests(table.io)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    ]
    if any(data_file.content != DataFileContent.DATA for data_file in files):
        return CompactionPlan(reason="skipped: the table has delete files (compact it with the engine that wrote them)")
    spec_id = table.spec().spec_id
    by_partition: dict[Record, list[DataFile]] = defaultdict(list)
    for data_file in files:
        if data_file.spec_id == spec_id and data_file.file_size_in_bytes < options.small_file_mb * _MB:
            by_partition[data_file.partition].append(data_file)
    packer: ListPacker[DataFile] = ListPacker(int(options.target_file_mb * _MB), lookback=1, largest_bin_first=False)
    groups = [
        group
        for small in by_partition.values()
        if len(small) >= options.min_small_files
        for group in packer.pack(small, lambda data_file: data_file.file_size_in_bytes)
        if len(group) > 1
    ]
    if groups:
        return CompactionPlan(groups=groups)
    small_files = sum(len(small) for small in by_partition.values())
    return CompactionPlan(
        reason=f"not needed: no partition has {options.min_small_files}+ small files ({small_files} small in all)"
    )


def rewrite_small_files(table: Table, plan: CompactionPlan) -> int:
    """Replace each group of the plan by the same rows in new files, in one snapshot; returns files written.

    Raises:
        RuntimeError: the rows read or written differ in number from the files' record counts (nothing is
            committed then).
        CommitFailedException, ValidationException: a concurrent commit conflicts (nothing is committed, and
            the files written for it are deleted again).
    """
    written: list[DataFile] = []
    try:
        with LakeTransaction(table) as txn:
            producer = merging_overwrite(txn, table.io, {SNAPSHOT_PROPERTY: COMPACTION}, MAIN_BRANCH)
            scan = ArrowScan(txn.table_metadata, table.io, table.schema(), AlwaysTrue())
            counter = itertools.count(0)
            for group in plan.groups:
                rows = scan.to_table([FileScanTask(data_file) for data_file in group])
                new_files = list(
                    _dataframe_to_data_files(txn.table_metadata, rows, table.io, producer.commit_uuid, counter)
                )
                written.extend(new_files)
                expected = sum(data_file.record_count for data_file in group)
                if rows.num_rows != expected or sum(data_file.record_count for data_file in new_files) != expected:
                    raise RuntimeError(
                        f"compacting {'.'.join(table.name())}: {expected} rows in the small files, {rows.num_rows} "
                        f"read, {sum(f.record_count for f in new_files)} written; nothing was committed"
                    )
                for data_file in group:
                    producer.delete_data_file(data_file)
                for data_file in new_files:
                    producer.append_data_file(data_file)
            producer.commit()
    except (CommitFailedException, ValidationException):
        for data_file in written:
            table.io.delete(data_file.file_path)
        raise
    return len(written)


def compact_table(table: Table, options: MaintenanceSettings) -> tuple[CompactionPlan, int]:
    """Plan and rewrite; when a concurrent writer's commit conflicts, plan again on the fresh table and retry.

    Returns:
        The plan carried out (empty, with the reason, when there was nothing to do or every attempt
        conflicted) and the number of files written.
    """
    for _ in range(COMMIT_ATTEMPTS):
        plan = plan_compaction(table, options)
        if not plan.groups:
            return plan, 0
        try:
            return plan, rewrite_small_files(table, plan)
        except (CommitFailedException, ValidationException):
            table.refresh()
    return CompactionPlan(reason=f"skipped: concurrent writes conflicted {COMMIT_ATTEMPTS} times; run it again"), 0
