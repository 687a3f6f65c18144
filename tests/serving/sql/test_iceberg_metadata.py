"""Rows of the metadata tables, from pyiceberg's inspect API, in the shapes Trino gives them."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, TimestamptzType

from serving.sql.iceberg_metadata import metadata_rows, metadata_table_name


def test_partitions_list_each_partition_with_its_rows_files_and_bytes(catalog: Catalog) -> None:
    schema = Schema(NestedField(1, "n", LongType()), NestedField(2, "at", TimestamptzType()))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="at_day"))
    table = catalog.create_table("curated.events", schema, partition_spec=spec)
    days = [datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 2, 9, tzinfo=UTC)]
    for count, day in ((3, days[0]), (2, days[1]), (1, days[1])):
        table.append(pa.table({"n": list(range(count)), "at": [day] * count}, schema=schema.as_arrow()))

    rows = metadata_rows(table, "partitions")

    assert rows.column_names == ["partition", "record_count", "file_count", "total_size"]
    assert rows.schema.field("file_count").type == pa.int64()
    by_day = {row["partition"]["at_day"]: row for row in rows.to_pylist()}
    assert {day: (row["record_count"], row["file_count"]) for day, row in by_day.items()} == {
        days[0].date(): (3, 1),
        days[1].date(): (3, 2),
    }
    sizes = sum(task.file.file_size_in_bytes for task in table.refresh().scan().plan_files())
    assert sum(row["total_size"] for row in by_day.values()) == sizes


def test_a_metadata_table_name_is_a_table_then_a_known_kind() -> None:
    assert metadata_table_name("orders$snapshots") == ("orders", "snapshots")
    assert metadata_table_name("odd$name$partitions") == ("odd$name", "partitions")
    assert metadata_table_name("orders$files") is None
    assert metadata_table_name("$snapshots") is None
    assert metadata_table_name("orders") is None
