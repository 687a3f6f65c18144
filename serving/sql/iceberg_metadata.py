"""Trino's Iceberg metadata tables: ``"orders$snapshots"``, ``$history``, ``$refs``, ``$partitions`` and
``$properties``.

They are how a BI user finds the snapshot ids and times that ``FOR VERSION AS OF`` / ``FOR TIMESTAMP AS OF`` read.
pyiceberg's inspect API builds them from the table's current metadata, with the columns Trino's Iceberg connector
gives them (``$partitions`` without Trino's per-column ``data`` statistics); times are made UTC-aware, as Trino's
``timestamp(3) with time zone``.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from pyiceberg.table import Table


def _partitions(table: Table) -> pa.Table:
    """One row per partition (one row in all for an unpartitioned table): its values, rows, files and bytes."""
    rows = table.inspect.partitions()
    values = {"partition": rows["partition"]} if "partition" in rows.column_names else {}
    return pa.table(
        {
            **values,
            "record_count": rows["record_count"],
            "file_count": rows["file_count"].cast(pa.int64()),
            "total_size": rows["total_data_file_size_in_bytes"],
        }
    )


METADATA_TABLES: dict[str, Callable[[Table], pa.Table]] = {
    "snapshots": lambda table: table.inspect.snapshots(),
    "history": lambda table: table.inspect.history(),
    "refs": lambda table: table.inspect.refs(),
    "partitions": _partitions,
    "properties": lambda table: pa.table(
        {"key": list(table.properties), "value": list(table.properties.values())},
        schema=pa.schema([("key", pa.string()), ("value", pa.string())]),
    ),
}
"""Metadata table kind (the part after ``$``) -> its rows for one table."""


def metadata_table_name(name: str) -> tuple[str, str] | None:
    """``(table, kind)`` when ``name`` is ``table$kind`` with a kind of :data:`METADATA_TABLES`, else None."""
    table, separator, kind = name.rpartition("$")
    return (table, kind) if separator and table and kind in METADATA_TABLES else None


def metadata_rows(table: Table, kind: str) -> pa.Table:
    """The rows of ``table$kind``, with UTC timestamps and plain strings where pyiceberg has naive times or
    dictionary-encoded text."""
    rows = METADATA_TABLES[kind](table)
    fields = []
    for field in rows.schema:
        kind_of = field.type
        if pa.types.is_timestamp(kind_of) and kind_of.tz is None:
            kind_of = pa.timestamp(kind_of.unit, tz="UTC")
        elif pa.types.is_dictionary(kind_of):
            kind_of = kind_of.value_type
        fields.append(field.with_type(kind_of))
    return rows.cast(pa.schema(fields))
