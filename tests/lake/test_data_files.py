"""DuckDB-written data files of Iceberg tables: types, field ids, partitions, empty results, on a real catalog."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import BucketTransform, DayTransform, HourTransform, IdentityTransform
from pyiceberg.types import (
    DecimalType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
)

from lake.data_files import write_data_files
from lake.errors import TransformError
from lake.tables import file_system_path
from tests.conftest import arrow_query

SCHEMA = Schema(
    NestedField(1, "key", StringType(), required=False),
    NestedField(2, "at", TimestamptzType(), required=False),
    NestedField(3, "amount", DecimalType(18, 2), required=False),
    NestedField(4, "tags", ListType(5, StringType(), element_required=False), required=False),
    NestedField(6, "home", StructType(NestedField(7, "city", StringType(), required=False)), required=False),
    NestedField(8, "note", StringType(), required=False),
)


def _table(
    catalog: Catalog, name: str, spec: PartitionSpec, schema: Schema = SCHEMA, properties: dict[str, str] | None = None
) -> Table:
    catalog.create_namespace_if_not_exists("staging")
    return catalog.create_table(f"staging.{name}", schema=schema, partition_spec=spec, properties=properties or {})


def _commit(table: Table, rows: pa.Table, time_zone: str = "UTC") -> tuple[int, int]:
    """Write ``rows`` as files of ``table`` and append them; the rows and files written."""
    connection, query = arrow_query(rows)
    connection.execute(f"SET TimeZone = '{time_zone}'")
    with table.transaction() as txn:
        count, files = write_data_files(connection, query, rows.column_names, table, txn.table_metadata)
        with txn.update_snapshot().fast_append() as append:
            for data_file in files:
                append.append_data_file(data_file)
    return count, len(files)


def test_rows_land_by_utc_day_with_the_tables_field_ids_and_nulls_for_missing_columns(catalog: Catalog) -> None:
    table = _table(catalog, "typed", PartitionSpec(PartitionField(2, 1000, DayTransform(), "at_day")))
    rows = pa.table(
        {
            "key": ["a", "b", "c"],
            "at": pa.array(
                [datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 2, 4, 30, tzinfo=UTC), None],
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": pa.array([Decimal("1.50"), Decimal("2.25"), None], pa.decimal128(18, 2)),
            "tags": [["x", "y"], [], None],
            "home": [{"city": "Oslo"}, None, {"city": None}],
        }
    )
    # 04:30 UTC on 2 January is still 1 January in New York: days follow UTC, whatever the session's zone
    assert _commit(table, rows, time_zone="America/New_York") == (3, 3)

    table = catalog.load_table("staging.typed")
    days = {task.file.partition[0]: task.file.file_path for task in table.scan().plan_files()}
    first = (date(2026, 1, 1) - date(1970, 1, 1)).days
    assert set(days) == {first, first + 1, None}
    read = table.scan().to_arrow().sort_by("key")
    assert read.column("amount").to_pylist() == [Decimal("1.50"), Decimal("2.25"), None]
    assert read.column("tags").to_pylist() == [["x", "y"], [], None]
    assert read.column("home").to_pylist() == [{"city": "Oslo"}, None, {"city": None}]
    assert read.column("note").to_pylist() == [None, None, None]
    written, ids = pq.read_schema(file_system_path(days[first])), table.schema()
    assert written.names == [field.name for field in ids.fields]
    assert [_field_id(written.field(name)) for name in written.names] == [field.field_id for field in ids.fields]
    assert _field_id(written.field("tags").type.value_field) == ids.find_field("tags.element").field_id
    assert _field_id(written.field("home").type.field("city")) == ids.find_field("home.city").field_id


def test_hours_of_a_naive_timestamp_and_identity_values_each_get_their_files(catalog: Catalog) -> None:
    schema = Schema(
        NestedField(1, "region", StringType(), required=False),
        NestedField(2, "at", TimestampType(), required=False),
        NestedField(3, "n", LongType(), required=False),
    )
    spec = PartitionSpec(
        PartitionField(1, 1000, IdentityTransform(), "region"), PartitionField(2, 1001, HourTransform(), "at_hour")
    )
    table = _table(catalog, "hourly", spec, schema)
    moments = [datetime(2026, 1, 1, 10, 5), datetime(2026, 1, 1, 10, 55), datetime(2026, 1, 1, 11, 0)]
    rows = pa.table({"region": ["eu", "eu", "eu"], "at": moments, "n": [1, 2, 3]})
    rows = pa.concat_tables([rows, rows.set_column(0, "region", pa.array(["us"] * 3))])

    assert _commit(table, rows) == (6, 4)

    table = catalog.load_table("staging.hourly")
    counts = {tuple(task.file.partition): task.file.record_count for task in table.scan().plan_files()}
    hour = (datetime(2026, 1, 1, 10) - datetime(1970, 1, 1)) // timedelta(hours=1)
    assert counts == {("eu", hour): 2, ("eu", hour + 1): 1, ("us", hour): 2, ("us", hour + 1): 1}


@pytest.mark.parametrize(
    ("codec", "expected"), [({}, "ZSTD"), ({"write.parquet.compression-codec": "snappy"}, "SNAPPY")]
)
def test_the_tables_codec_property_is_written_with(catalog: Catalog, codec: dict[str, str], expected: str) -> None:
    table = _table(catalog, f"codec_{expected.lower()}", PartitionSpec(), properties=codec)

    _commit(table, pa.table({"key": ["a", "b"]}))

    [task] = catalog.load_table(f"staging.codec_{expected.lower()}").scan().plan_files()
    metadata = pq.ParquetFile(file_system_path(task.file.file_path)).metadata
    assert {metadata.row_group(0).column(n).compression for n in range(metadata.num_columns)} == {expected}


def test_no_rows_write_no_file(catalog: Catalog) -> None:
    table = _table(catalog, "empty", PartitionSpec())
    rows = pa.table({"key": pa.array([], pa.string())})

    assert _commit(table, rows) == (0, 0)

    assert not list(Path(file_system_path(catalog.load_table("staging.empty").location())).rglob("*.parquet"))


def test_a_partition_transform_duckdb_cannot_compute_is_refused(catalog: Catalog) -> None:
    table = _table(catalog, "bucketed", PartitionSpec(PartitionField(1, 1000, BucketTransform(8), "key_bucket")))

    with pytest.raises(TransformError, match=r"identity, year, month, day or hour; key_bucket is bucket\[8\]\(key\)"):
        _commit(table, pa.table({"key": ["a"]}))


def _field_id(field: pa.Field) -> int:
    return int(field.metadata[b"PARQUET:field_id"])


def test_a_query_failing_halfway_leaves_only_the_files_committed_before(catalog: Catalog) -> None:
    schema = Schema(NestedField(1, "n", LongType(), required=False), NestedField(2, "padding", StringType()))
    table = _table(catalog, "failing", PartitionSpec(), schema, {"write.target-file-size-bytes": "100000"})
    _commit(table, pa.table({"n": [1], "padding": ["x"]}))
    folder = Path(file_system_path(table.location())) / "data"
    committed = sorted(folder.rglob("*.parquet"))
    # DuckDB rolls over to a new file every 100 kB, so files are written before the failing row comes
    failing = (
        "SELECT CASE WHEN i < 150000 THEN i ELSE error('planted failure') END AS n, repeat('x', 50) AS padding "
        "FROM range(200000) AS numbers(i)"
    )

    with pytest.raises(duckdb.Error, match="planted failure"):
        write_data_files(duckdb.connect(), failing, ["n", "padding"], table, table.metadata)

    assert sorted(folder.rglob("*.parquet")) == committed
