"""What changed between two snapshots of a real Iceberg table, from its metadata: appends, late rows, removed
rows and compaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table

from lake.changes import ChangesUnknownError, first_changed_value
from lake.errors import TransformError
from lake.maintenance.compaction import COMPACTION, SNAPSHOT_PROPERTY, compact_table
from lake.settings import MaintenanceSettings

TABLE = "raw.events"


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _append(table: Table, days: list[tuple[int, int]]) -> int:
    rows = pa.table(
        {"key": [f"k{day}-{hour}" for day, hour in days], "at": [_at(day, hour) for day, hour in days]},
        schema=pa.schema([("key", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]),
    )
    table.append(rows)
    return table.current_snapshot().snapshot_id


@pytest.fixture
def events(catalog: Catalog) -> Table:
    table = catalog.create_table(TABLE, schema=pa.schema([("key", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]))
    _append(table, [(1, 8), (2, 9)])
    return table


def test_rows_appended_since_a_snapshot_start_at_their_earliest_time(events: Table) -> None:
    read = events.current_snapshot().snapshot_id
    _append(events, [(3, 10), (3, 7)])
    latest = _append(events, [(4, 6)])

    assert first_changed_value(events, read, latest, "at") == _at(3, 7)
    assert first_changed_value(events, read, latest, "AT") == _at(3, 7)


def test_a_late_row_moves_the_start_back_to_its_own_day(events: Table) -> None:
    read = events.current_snapshot().snapshot_id
    latest = _append(events, [(3, 10), (1, 23)])

    assert first_changed_value(events, read, latest, "at") == _at(1, 23)


def test_nothing_changed_since_the_snapshot_read(events: Table) -> None:
    read = events.current_snapshot().snapshot_id

    assert first_changed_value(events, read, read, "at") is None


def test_removed_rows_count_and_compaction_does_not(events: Table) -> None:
    read = _append(events, [(3, 10)])
    _append(events, [(3, 11)])
    compact_table(events.refresh(), MaintenanceSettings(min_small_files=2))
    compacted = events.refresh().current_snapshot().snapshot_id
    assert events.current_snapshot().summary[SNAPSHOT_PROPERTY] == COMPACTION
    events.delete(EqualTo("key", "k2-9"))
    deleted = events.refresh().current_snapshot().snapshot_id

    assert first_changed_value(events, read, compacted, "at") == _at(3, 11)  # compaction merged days 1 to 3
    assert first_changed_value(events, read, deleted, "at") == _at(1, 8)  # the file rewritten without k2-9


def test_a_snapshot_outside_the_history_is_unknown_and_a_non_time_column_is_an_error(events: Table) -> None:
    latest = _append(events, [(3, 10)])

    with pytest.raises(ChangesUnknownError, match="not in the history"):
        first_changed_value(events, 12345, latest, "at")
    with pytest.raises(TransformError, match="not a date or timestamp"):
        first_changed_value(events, latest, latest, "key")
