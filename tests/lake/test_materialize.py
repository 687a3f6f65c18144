"""Staged Iceberg writes by strategy, and their publication (write-audit-publish), on a real catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table, TableProperties

from lake.duck import connect, iceberg_scan_sql
from lake.errors import TransformError
from lake.materialize import AUDIT_BRANCH, parse_partition_field, publish_staged_snapshot, write_staged_snapshot
from lake.settings import Settings
from lake.tables import file_system_path
from tests.conftest import arrow_query

TABLE = "staging.events"


def _rows(keys: list[str], day: int, value: int = 1) -> pa.Table:
    return pa.table(
        {
            "key": keys,
            "value": [value] * len(keys),
            "at": [datetime(2026, 1, day, 12, tzinfo=UTC)] * len(keys),
        }
    )


def _write_and_publish(catalog: Catalog, rows: pa.Table, strategy: str, **options: object) -> int:
    staged = write_staged_snapshot(catalog, TABLE, *arrow_query(rows), strategy, **options)  # type: ignore[arg-type]
    return publish_staged_snapshot(catalog, TABLE, staged.snapshot_id)


def _published(catalog: Catalog) -> list[tuple[str, int, int]]:
    table = catalog.load_table(TABLE).scan().to_arrow()
    return sorted(
        zip(table["key"].to_pylist(), table["value"].to_pylist(), [t.day for t in table["at"].to_pylist()], strict=True)
    )


def _read_by_duckdb(settings: Settings, table: Table) -> list[tuple[str, int]]:
    """The table's rows as DuckDB's iceberg_scan reads them from the current metadata."""
    with connect(settings) as duck:
        return duck.execute(f"SELECT key, value FROM {iceberg_scan_sql(table)} ORDER BY key").fetchall()


def test_a_staged_write_is_invisible_until_published(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a", "b"], day=1), "table")
    before = catalog.load_table(TABLE).current_snapshot()

    staged = write_staged_snapshot(
        catalog,
        TABLE,
        *arrow_query(_rows(["c"], day=2)),
        "table",
        properties={"dbt.invocation-id": "inv-1", "dbt.model": "m"},
    )

    table = catalog.load_table(TABLE)
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    assert _published(catalog) == [("a", 1, 1), ("b", 1, 1)]
    assert table.metadata.refs[AUDIT_BRANCH].snapshot_id == staged.snapshot_id
    assert table.scan(snapshot_id=staged.snapshot_id).to_arrow()["key"].to_pylist() == ["c"]

    publish_staged_snapshot(catalog, TABLE, staged.snapshot_id)

    table = catalog.load_table(TABLE)
    assert table.current_snapshot().snapshot_id == staged.snapshot_id
    assert table.current_snapshot().parent_snapshot_id == before.snapshot_id
    assert AUDIT_BRANCH not in table.metadata.refs
    assert table.current_snapshot().summary["dbt.invocation-id"] == "inv-1"
    assert _published(catalog) == [("c", 1, 2)]


def test_a_write_over_a_held_back_one_is_one_catalog_commit_on_the_published_head(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a"], day=1), "table")
    held_back = write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["b"], day=1)), "append")
    commits = len(catalog.load_table(TABLE).metadata.metadata_log)

    staged = write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["c"], day=1)), "append")

    table = catalog.load_table(TABLE)
    assert len(table.metadata.metadata_log) == commits + 1
    assert table.snapshot_by_id(staged.snapshot_id).parent_snapshot_id == table.current_snapshot().snapshot_id
    assert table.current_snapshot().snapshot_id != held_back.snapshot_id
    publish_staged_snapshot(catalog, TABLE, staged.snapshot_id)
    assert _published(catalog) == [("a", 1, 1), ("c", 1, 1)]


def test_full_replace_is_one_overwrite_snapshot(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a", "b"], day=1), "table")
    snapshots_before = len(catalog.load_table(TABLE).metadata.snapshots)

    _write_and_publish(catalog, _rows(["x"], day=1), "table")

    table = catalog.load_table(TABLE)
    assert len(table.metadata.snapshots) == snapshots_before + 1
    assert table.current_snapshot().summary.operation.value == "overwrite"
    assert _published(catalog) == [("x", 1, 1)]


def test_append_adds_rows_and_removes_none(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a"], day=1), "table")
    _write_and_publish(catalog, _rows(["b", "c"], day=2), "append")

    summary = catalog.load_table(TABLE).current_snapshot().summary
    assert summary.operation.value == "append"
    assert summary["added-records"] == "2"
    assert "deleted-records" not in summary.additional_properties
    assert _published(catalog) == [("a", 1, 1), ("b", 1, 2), ("c", 1, 2)]


def test_appends_merge_manifests_once_a_table_holds_enough_of_them(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a"], day=1), "table")
    with catalog.load_table(TABLE).transaction() as txn:
        txn.set_properties({TableProperties.MANIFEST_MIN_MERGE_COUNT: "2"})  # instead of 100
    for day, key in enumerate("bcd", start=2):
        _write_and_publish(catalog, _rows([key], day=day), "append")

    table = catalog.load_table(TABLE)
    assert len(table.current_snapshot().manifests(table.io)) == 1
    assert _published(catalog) == [("a", 1, 1), ("b", 1, 2), ("c", 1, 3), ("d", 1, 4)]


def test_overwrites_merge_manifests_as_appends_do(catalog: Catalog, settings: Settings) -> None:
    _write_and_publish(catalog, _rows(["a"], day=1), "table", partition_by=["day(at)"])
    with catalog.load_table(TABLE).transaction() as txn:
        txn.set_properties({TableProperties.MANIFEST_MIN_MERGE_COUNT: "2"})
    _write_and_publish(catalog, _rows(["b"], day=2), "insert_overwrite")
    _write_and_publish(catalog, _rows(["c"], day=3), "insert_overwrite")

    _write_and_publish(catalog, _rows(["d"], day=3, value=9), "insert_overwrite")

    table = catalog.load_table(TABLE)
    summary = table.current_snapshot().summary
    assert (summary.operation.value, summary["deleted-records"]) == ("overwrite", "1")
    assert len(table.current_snapshot().manifests(table.io)) == 1
    assert _read_by_duckdb(settings, table) == [("a", 1), ("b", 1), ("d", 9)]


def test_a_replace_drops_the_manifests_left_with_only_deleted_files(catalog: Catalog, settings: Settings) -> None:
    for value in range(1, 5):
        _write_and_publish(catalog, _rows(["a", "b"], day=1, value=value), "table")

    table = catalog.load_table(TABLE)
    snapshot = table.current_snapshot()
    kept = [(m.added_snapshot_id, m.added_files_count, m.deleted_files_count) for m in snapshot.manifests(table.io)]
    # this replace's added files and the files it deleted; the three earlier delete manifests are gone
    assert sorted(kept) == [(snapshot.snapshot_id, 0, 1), (snapshot.snapshot_id, 1, 0)]
    assert _read_by_duckdb(settings, table) == [("a", 4), ("b", 4)]


def test_insert_overwrite_replaces_only_the_partitions_written(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a", "b"], day=1), "table", partition_by=["day(at)"])
    _write_and_publish(catalog, _rows(["c"], day=2), "append")

    _write_and_publish(catalog, _rows(["d"], day=2, value=9), "insert_overwrite")

    summary = catalog.load_table(TABLE).current_snapshot().summary
    assert summary["deleted-records"] == "1"
    assert _published(catalog) == [("a", 1, 1), ("b", 1, 1), ("d", 9, 2)]


def test_one_partition_field_may_be_given_as_a_plain_string(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a"], day=1), "table", partition_by="day(at)")

    assert [(field.name, str(field.transform)) for field in catalog.load_table(TABLE).spec().fields] == [
        ("at_day", "day")
    ]


def test_merge_replaces_rows_whose_key_comes_again(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a", "b", "c"], day=1), "table")

    _write_and_publish(catalog, _rows(["b", "z"], day=3, value=7), "merge", unique_key="key")

    assert _published(catalog) == [("a", 1, 1), ("b", 7, 3), ("c", 1, 1), ("z", 7, 3)]
    assert catalog.load_table(TABLE).current_snapshot().summary["deleted-records"] == "3"


def test_publishing_after_the_published_head_moved_is_refused(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a"], day=1), "table")
    staged = write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["b"], day=1)), "table")
    catalog.load_table(TABLE).append(_rows(["c"], day=1))

    with pytest.raises(TransformError, match="moved"):
        publish_staged_snapshot(catalog, TABLE, staged.snapshot_id)
    assert _published(catalog) == [("a", 1, 1), ("c", 1, 1)]


def test_bad_requests_name_what_was_wrong(catalog: Catalog) -> None:
    with pytest.raises(TransformError, match="unknown strategy 'upsert'"):
        write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["a"], day=1)), "upsert")
    with pytest.raises(TransformError, match="needs unique_key"):
        write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["a"], day=1)), "merge", unique_key="missing")
    with pytest.raises(TransformError, match="partition column 'nope'"):
        write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["a"], day=1)), "table", partition_by=["day(nope)"])
    unstorable = "SELECT 1 AS id, TIMETZ '10:00:00+02' AS opens_at, INTERVAL 3 DAY AS delay, 1::UNION(n INT) AS u"
    with pytest.raises(
        TransformError, match=r"opens_at \(TIME WITH TIME ZONE\) to a TIMESTAMPTZ.*delay \(INTERVAL\).*u \(UNION\(n"
    ):
        write_staged_snapshot(catalog, TABLE, duckdb.connect(), unstorable, "table")
    _write_and_publish(catalog, _rows(["a"], day=1), "table")
    other = pa.table({"key": [1]})
    with pytest.raises(TransformError, match="--full-refresh"):
        write_staged_snapshot(catalog, TABLE, *arrow_query(other), "append")
    assert _published(catalog) == [("a", 1, 1)]


def test_unsigned_integers_are_stored_whole(catalog: Catalog, settings: Settings) -> None:
    """Iceberg's integers are signed: UINTEGER goes to long and UBIGINT (e.g. ``hash()``) to decimal(20, 0), also
    inside nested types, so their largest values are kept rather than refused."""
    query = (
        "SELECT 4294967295::UINTEGER AS u32, 18446744073709551615::UBIGINT AS u64, hash('lakeforge') AS bucket, "
        "[4294967295::UINTEGER] AS listed, {'n': 18446744073709551615::UBIGINT} AS nested, 65535::USMALLINT AS u16"
    )
    with connect(settings) as duck:
        staged = write_staged_snapshot(catalog, TABLE, duck, query, "table")
        table = catalog.load_table(TABLE)
        types = {field.name: str(field.field_type) for field in table.schema().fields}
        stored = duck.execute(f"SELECT * FROM {iceberg_scan_sql(table, staged.snapshot_id)}").fetchone()
        expected = duck.execute(query).fetchone()

    assert types == {
        "u32": "long",
        "u64": "decimal(20, 0)",
        "bucket": "decimal(20, 0)",
        "listed": "list<long>",
        "nested": "struct<8: n: optional decimal(20, 0)>",
        "u16": "int",
    }
    assert stored is not None and expected is not None
    assert [int(stored[0]), int(stored[1]), int(stored[2]), stored[3], int(stored[4]["n"]), stored[5]] == [
        expected[0],
        expected[1],
        expected[2],
        expected[3],
        expected[4]["n"],
        expected[5],
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("day(transaction_at)", ("transaction_at", "day")), ("region", ("region", "identity"))],
)
def test_partition_fields_are_parsed(text: str, expected: tuple[str, str]) -> None:
    assert parse_partition_field(text) == expected


def test_a_malformed_partition_field_is_refused() -> None:
    with pytest.raises(TransformError, match="transform\\(column\\)"):
        parse_partition_field("day(")


def test_a_write_lists_the_files_it_added(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a", "b"], day=1), "table")
    appended = write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["c", "d"], day=2)), "append")
    publish_staged_snapshot(catalog, TABLE, appended.snapshot_id)

    merged = write_staged_snapshot(
        catalog, TABLE, *arrow_query(_rows(["c"], day=3, value=7)), "merge", unique_key="key"
    )

    assert _rows_of(catalog, appended.added_files) == [("c", 1), ("d", 1)]
    assert _rows_of(catalog, merged.added_files) == [("c", 7), ("d", 1)]  # the new row and the rewritten file's


def _rows_of(catalog: Catalog, paths: tuple[str, ...]) -> list[tuple[str, int]]:
    io = catalog.load_table(TABLE).io
    rows: list[tuple[str, int]] = []
    for path in paths:
        with io.new_input(path).open() as stream:
            data = pq.read_table(stream)
        rows.extend(zip(data["key"].to_pylist(), data["value"].to_pylist(), strict=True))
    return sorted(rows)


def _stored_data_files(catalog: Catalog) -> set[str]:
    folder = Path(file_system_path(catalog.load_table(TABLE).location())) / "data"
    return {str(path) for path in folder.rglob("*.parquet")}


def test_a_write_that_fails_after_writing_its_files_leaves_none(catalog: Catalog) -> None:
    _write_and_publish(catalog, _rows(["a", "b"], day=1), "table")
    (lost,) = _stored_data_files(catalog)
    Path(lost).unlink()  # the merge must read the live file to rewrite it, and fails after the new rows are written
    snapshots = [snapshot.snapshot_id for snapshot in catalog.load_table(TABLE).snapshots()]

    with pytest.raises(duckdb.IOException):
        write_staged_snapshot(catalog, TABLE, *arrow_query(_rows(["b", "c"], day=2)), "merge", unique_key="key")

    assert _stored_data_files(catalog) == set()
    assert [snapshot.snapshot_id for snapshot in catalog.load_table(TABLE).snapshots()] == snapshots
