"""What changed in an Iceberg table between two of its snapshots, read from its metadata alone.

An incremental model rebuilds from the earliest event time its input changed at since it last read that input:
the rows of the snapshots committed in between, added or removed, bound it (each data file records the lower
bound of every column). Compaction only rewrites rows into other files (Iceberg's ``replace``, or the overwrite
``lakeforge maintain`` marks as compaction), so its snapshots do not count. No data file is opened: the manifests
the snapshots wrote carry everything needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyiceberg.conversions import from_bytes
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation, Snapshot, ancestors_of
from pyiceberg.types import DateType, IcebergType, TimestampType, TimestamptzType

from lake.errors import TransformError
from lake.maintenance.compaction import COMPACTION, SNAPSHOT_PROPERTY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ChangesUnknownError(TransformError):
    """The table's metadata cannot tell what changed (the caller must assume everything did)."""


def first_changed_value(table: Table, since_snapshot_id: int, until_snapshot_id: int, column: str) -> datetime | None:
    """The earliest value of ``column`` among the rows the snapshots after one and up to another added or removed.

    Args:
        table: the Iceberg table.
        since_snapshot_id: the snapshot last read; its own rows are not changes.
        until_snapshot_id: the snapshot read now; ``since_snapshot_id`` must be one of its ancestors.
        column: a date or timestamp column (dates count from midnight UTC).

    Returns:
        The lower bound, in UTC, of ``column`` over the data files added or removed in between, or ``None``
        when no row changed.

    Raises:
        ChangesUnknownError: ``since_snapshot_id`` is not an ancestor of ``until_snapshot_id`` (expired, or
            another lineage), a snapshot in between wrote delete files, or a changed file has no lower bound
            for ``column``.
        TransformError: ``column`` is not a date or timestamp column of the table.
    """
    field_id, field_type = time_column(table, column)
    earliest: datetime | None = None
    for snapshot in _snapshots_after(table, since_snapshot_id, until_snapshot_id):
        if _rewrites_only(snapshot):
            continue
        for data_file in _files_changed_by(table, snapshot):
            bound = data_file.lower_bounds.get(field_id) if data_file.lower_bounds else None
            if bound is None:
                raise ChangesUnknownError(f"data file {data_file.file_path} records no lower bound of {column}")
            value = _as_datetime(int(from_bytes(field_type, bound)), field_type)
            earliest = value if earliest is None else min(earliest, value)
    return earliest


TimeColumnType = DateType | TimestampType | TimestamptzType
"""The column types whose changes are bounded by time."""


def time_column(table: Table, column: str) -> tuple[int, TimeColumnType]:
    """The field id and type of ``column`` (any case), a date or timestamp column of ``table``.

    Raises:
        TransformError: ``column`` is of another type.
    """
    field = table.schema().find_field(column, case_sensitive=False)
    if not isinstance(field.field_type, TimeColumnType):
        raise TransformError(f"{'.'.join(table.name())}.{column} is {field.field_type}, not a date or timestamp")
    return field.field_id, field.field_type


def _snapshots_after(table: Table, since_snapshot_id: int, until_snapshot_id: int) -> list[Snapshot]:
    until = table.snapshot_by_id(until_snapshot_id)
    if until is None:
        raise ChangesUnknownError(f"snapshot {until_snapshot_id} of {'.'.join(table.name())} does not exist")
    between: list[Snapshot] = []
    for snapshot in ancestors_of(until, table.metadata):
        if snapshot.snapshot_id == since_snapshot_id:
            return between
        between.append(snapshot)
    raise ChangesUnknownError(
        f"snapshot {since_snapshot_id} of {'.'.join(table.name())} is not in the history of snapshot "
        f"{until_snapshot_id} (expired, or the table was replaced)"
    )


def _rewrites_only(snapshot: Snapshot) -> bool:
    summary = snapshot.summary
    return summary is not None and (
        summary.operation == Operation.REPLACE or summary.get(SNAPSHOT_PROPERTY) == COMPACTION
    )


def _files_changed_by(table: Table, snapshot: Snapshot) -> list[DataFile]:
    """The data files ``snapshot`` added or removed (read from the manifests it wrote)."""
    changed = []
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
            if entry.snapshot_id != snapshot.snapshot_id or entry.status == ManifestEntryStatus.EXISTING:
                continue
            if entry.data_file.content != DataFileContent.DATA:
                raise ChangesUnknownError(
                    f"snapshot {snapshot.snapshot_id} of {'.'.join(table.name())} wrote delete files, whose rows "
                    "the metadata does not bound"
                )
            changed.append(entry.data_file)
    return changed


def _as_datetime(value: int, field_type: IcebergType) -> datetime:
    """Iceberg stores a date as days and a timestamp as microseconds since the epoch."""
    if isinstance(field_type, DateType):
        return _EPOCH + timedelta(days=value)
    return _EPOCH + timedelta(microseconds=value)
