"""One-commit appends of Python rows to bookkeeping tables."""

from __future__ import annotations

from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from lake.appends import append_rows

SCHEMA = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "note", StringType(), required=False))


def test_rows_land_in_one_snapshot_and_nothing_is_written_for_no_rows(catalog: Catalog) -> None:
    catalog.create_namespace_if_not_exists("ops")
    table = catalog.create_table("ops.append_rows_test", schema=SCHEMA)
    append_rows(table, [{"id": 1, "note": "a"}, {"id": 2, "note": None}])
    append_rows(table, [])
    table.refresh()
    assert len(table.snapshots()) == 1
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2]
