"""Reading the lake: table statistics, snapshot history and time travel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table

from lake.catalog import list_table_names, load_table
from lake.errors import CatalogError


@dataclass(frozen=True)
class TableStats:
    """What ``lakeforge tables`` shows for one table, from its current snapshot's summary."""

    name: str
    rows: int
    files: int
    size_bytes: int
    snapshots: int
    last_commit: datetime | None


@dataclass(frozen=True)
class SnapshotInfo:
    """One entry of a table's history."""

    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    summary: dict[str, str]


def _ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def table_stats(catalog: Catalog, name: str) -> TableStats:
    """Rows, data files, bytes, snapshot count and last commit time of one table (metadata only, no scan)."""
    table = load_table(catalog, name)
    snapshot = table.current_snapshot()
    summary = snapshot.summary if snapshot and snapshot.summary else None
    return TableStats(
        name=name,
        rows=int(summary.get("total-records", 0)) if summary else 0,
        files=int(summary.get("total-data-files", 0)) if summary else 0,
        size_bytes=int(summary.get("total-files-size", 0)) if summary else 0,
        snapshots=len(table.metadata.snapshots),
        last_commit=_ms_to_datetime(snapshot.timestamp_ms) if snapshot else None,
    )


def list_table_stats(catalog: Catalog) -> list[TableStats]:
    """:func:`table_stats` of every table in the catalog, sorted by name."""
    return [table_stats(catalog, name) for name in list_table_names(catalog)]


def snapshot_history(catalog: Catalog, name: str) -> list[SnapshotInfo]:
    """Every snapshot of the table, oldest first, with its summary (operation, counts, writer properties)."""
    table = load_table(catalog, name)
    history = []
    for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms):
        summary = snapshot.summary
        history.append(
            SnapshotInfo(
                snapshot_id=snapshot.snapshot_id,
                parent_id=snapshot.parent_snapshot_id,
                committed_at=_ms_to_datetime(snapshot.timestamp_ms),
                operation=str(summary.operation.value) if summary else "unknown",
                summary={k: str(v) for k, v in summary.additional_properties.items()} if summary else {},
            )
        )
    return history


def snapshot_id_as_of(table: Table, as_of: datetime) -> int:
    """The id of the snapshot that was current at ``as_of`` (the last one committed at or before it).

    Raises:
        CatalogError: the table had no snapshot yet at that time.
    """
    if as_of.tzinfo is None:
        raise CatalogError(f"as_of {as_of.isoformat()} has no time zone; pass an aware datetime (e.g. UTC)")
    cutoff_ms = int(as_of.timestamp() * 1000)
    candidates = [entry for entry in table.metadata.snapshot_log if entry.timestamp_ms <= cutoff_ms]
    if not candidates:
        raise CatalogError(f"table {table.name()} had no snapshot at {as_of.isoformat()}")
    return max(candidates, key=lambda entry: entry.timestamp_ms).snapshot_id


def read_table(
    catalog: Catalog,
    name: str,
    snapshot_id: int | None = None,
    as_of: datetime | None = None,
    row_filter: BooleanExpression | str = AlwaysTrue(),
    columns: tuple[str, ...] = ("*",),
) -> pa.Table:
    """Read a table as it is now, as of a snapshot id, or as of a point in time (time travel).

    Args:
        catalog: the Iceberg catalog.
        name: ``namespace.table``.
        snapshot_id: read this snapshot.
        as_of: read the snapshot that was current at this instant.
        row_filter: Iceberg filter pushed into the scan.
        columns: columns to read.

    Raises:
        CatalogError: the table or snapshot does not exist, or both ``snapshot_id`` and ``as_of`` are given.
    """
    if snapshot_id is not None and as_of is not None:
        raise CatalogError("pass either snapshot_id or as_of, not both")
    table = load_table(catalog, name)
    if as_of is not None:
        snapshot_id = snapshot_id_as_of(table, as_of)
    if snapshot_id is not None and table.snapshot_by_id(snapshot_id) is None:
        known = ", ".join(str(s.snapshot_id) for s in table.metadata.snapshots) or "none"
        raise CatalogError(f"table {name} has no snapshot {snapshot_id} (snapshots: {known})")
    return table.scan(row_filter=row_filter, selected_fields=columns, snapshot_id=snapshot_id).to_arrow()


def file_system_path(location: str) -> str:
    """A URI (``file:///x``, ``s3://bucket/key``) or local path as its file system path (scheme stripped)."""
    return PyArrowFileIO.parse_location(location)[2]
