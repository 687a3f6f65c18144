"""One-commit appends of Python rows to bookkeeping tables."""

from __future__ import annotations

import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType

from lake.appends import BufferedAppends, append_rows

SCHEMA = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "note", StringType(), required=False))


def test_rows_land_in_one_snapshot_and_nothing_is_written_for_no_rows(catalog: Catalog) -> None:
    catalog.create_namespace_if_not_exists("ops")
    table = catalog.create_table("ops.append_rows_test", schema=SCHEMA)
    append_rows(table, [{"id": 1, "note": "a"}, {"id": 2, "note": None}])
    append_rows(table, [])
    table.refresh()
    assert len(table.snapshots()) == 1
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2]


def test_buffered_rows_wait_for_a_flush_and_survive_a_failed_one(catalog: Catalog) -> None:
    catalog.create_namespace_if_not_exists("ops")
    table = catalog.create_table("ops.buffered_test", schema=SCHEMA)
    reachable = [False]

    def target() -> Table:
        if not reachable[0]:
            raise CommitFailedException("catalog unreachable")
        return table

    appends = BufferedAppends(target)
    assert appends.add([{"id": 1, "note": "a"}, {"id": 2, "note": None}], capacity=2)
    assert not appends.add([{"id": 3, "note": "c"}], capacity=2)
    with pytest.raises(CommitFailedException):
        appends.flush()
    assert appends.add([{"id": 3, "note": "c"}]) and appends.pending == 3

    reachable[0] = True
    assert appends.flush() == 3 and appends.pending == 0 and appends.flush() == 0

    table.refresh()
    assert len(table.snapshots()) == 1
    assert table.scan().to_arrow().column("id").to_pylist() == [1, 2, 3]
