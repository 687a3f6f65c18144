"""What the endpoint's catalog holds: schemas = Iceberg namespaces, tables = their current snapshots.

Each query starts from a :class:`LakeView`, refreshed cheaply: one query of the SQL catalog's
``iceberg_tables`` (the JDBC-catalog layout Trino's ``iceberg.catalog.type=jdbc`` reads too) gives every
table's current metadata location, and only tables whose location changed are loaded again. The
``information_schema`` and ``system`` tables clients query are built here as small Arrow tables, from
whatever part of the view the caller's rules let them see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.sql.types import from_iceberg

INFORMATION_SCHEMA = "information_schema"
SYSTEM_CATALOG = "system"


@dataclass(frozen=True)
class ColumnInfo:
    """One column as Trino shows it."""

    name: str
    type: str
    nullable: bool
    comment: str | None


@dataclass(frozen=True)
class LakeTable:
    """One Iceberg table at the snapshot the view was taken."""

    schema: str
    name: str
    table: Table = field(compare=False, repr=False)
    columns: tuple[ColumnInfo, ...] = field(compare=False)

    @property
    def comment(self) -> str | None:
        """The table's ``comment`` property, if it has one."""
        return self.table.properties.get("comment")

    def partition_columns(self) -> list[str]:
        """Trino's ``partitioning`` entries, e.g. ``day(transaction_at)``."""
        schema = self.table.schema()
        return [
            f"{field.transform}({schema.find_field(field.source_id).name})"
            if str(field.transform) != "identity"
            else schema.find_field(field.source_id).name
            for field in self.table.spec().fields
        ]


def _columns_of(table: Table) -> tuple[ColumnInfo, ...]:
    return tuple(
        ColumnInfo(field.name, from_iceberg(field.field_type), not field.required, field.doc)
        for field in table.schema().fields
    )


@dataclass(frozen=True)
class LakeView:
    """An immutable picture of the catalog, shared by the queries that started while it was current."""

    schemas: tuple[str, ...]
    tables: dict[tuple[str, str], LakeTable]

    def table(self, schema: str, name: str) -> LakeTable | None:
        """The table, or ``None`` when it does not exist (or has no snapshot yet)."""
        return self.tables.get((schema, name))

    def tables_in(self, schema: str) -> list[LakeTable]:
        """The tables of one schema, sorted by name."""
        return sorted((t for (s, _), t in self.tables.items() if s == schema), key=lambda t: t.name)


class LakeMetadata:
    """Keeps a :class:`LakeView` of one SQL catalog fresh, reloading only tables that changed."""

    def __init__(self, catalog: SqlCatalog, namespaces_ttl_s: float = 1.0) -> None:
        """Args:
        catalog: the SQL catalog to watch.
        namespaces_ttl_s: how long the list of (possibly empty) namespaces is reused before it is read again.
        """
        self._catalog = catalog
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], tuple[str, LakeTable]] = {}
        self._namespaces_ttl_s = namespaces_ttl_s
        self._namespaces: tuple[float, set[str]] = (float("-inf"), set())

    def view(self) -> LakeView:
        """The catalog as it is now: current metadata of every table that has a snapshot."""
        with self._lock:
            locations = self._current_locations()
            for key in set(self._loaded) - set(locations):
                del self._loaded[key]
            for key, location in locations.items():
                cached = self._loaded.get(key)
                if cached is None or cached[0] != location:
                    table = self._catalog.load_table(key)
                    self._loaded[key] = (location, LakeTable(key[0], key[1], table, _columns_of(table)))
            tables = {key: entry for key, (_, entry) in self._loaded.items() if entry.table.current_snapshot()}
            schemas = sorted(self._namespace_names() | {key[0] for key in locations})
        return LakeView(tuple(schemas), tables)

    def _namespace_names(self) -> set[str]:
        read_at, names = self._namespaces
        if time.monotonic() - read_at > self._namespaces_ttl_s:
            names = {namespace[0] for namespace in self._catalog.list_namespaces()}
            self._namespaces = (time.monotonic(), names)
        return names

    def _current_locations(self) -> dict[tuple[str, str], str]:
        statement = select(
            IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location
        ).where(IcebergTables.catalog_name == self._catalog.name)
        with Session(self._catalog.engine) as session:
            return {(ns, name): str(location) for ns, name, location in session.execute(statement)}


@dataclass(frozen=True)
class VisibleTable:
    """A table as one user may see it: only the columns the rules leave visible."""

    table: LakeTable
    columns: tuple[ColumnInfo, ...]


@dataclass(frozen=True)
class Visible:
    """The part of the lake one user may see: schemas and tables (with visible columns)."""

    catalog: str
    schemas: tuple[str, ...]
    tables: tuple[VisibleTable, ...]


_S = pa.string()
_L = pa.int64()

VirtualTable = Callable[[Visible], pa.Table]


def _build(columns: list[tuple[str, pa.DataType]], rows: Iterable[tuple]) -> pa.Table:
    schema = pa.schema(columns)
    listed = list(rows)
    return pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in listed], schema=schema)


def _schemata(visible: Visible) -> pa.Table:
    names = sorted({*visible.schemas, INFORMATION_SCHEMA})
    return _build([("catalog_name", _S), ("schema_name", _S)], ((visible.catalog, s) for s in names))


def _tables(visible: Visible) -> pa.Table:
    return _build(
        [("table_catalog", _S), ("table_schema", _S), ("table_name", _S), ("table_type", _S)],
        ((visible.catalog, v.table.schema, v.table.name, "BASE TABLE") for v in visible.tables),
    )


def _columns(visible: Visible) -> pa.Table:
    return _build(
        [
            ("table_catalog", _S),
            ("table_schema", _S),
            ("table_name", _S),
            ("column_name", _S),
            ("ordinal_position", _L),
            ("column_default", _S),
            ("is_nullable", _S),
            ("data_type", _S),
            ("comment", _S),
        ],
        (
            (
                visible.catalog,
                v.table.schema,
                v.table.name,
                c.name,
                i,
                None,
                "YES" if c.nullable else "NO",
                c.type,
                c.comment,
            )
            for v in visible.tables
            for i, c in enumerate(v.columns, start=1)
        ),
    )


def _views(visible: Visible) -> pa.Table:
    return _build([("table_catalog", _S), ("table_schema", _S), ("table_name", _S), ("view_definition", _S)], ())


def _jdbc_catalogs(visible: Visible) -> pa.Table:
    return _build([("table_cat", _S)], [(visible.catalog,), (SYSTEM_CATALOG,)])


def _metadata_catalogs(visible: Visible) -> pa.Table:
    return _build(
        [("catalog_name", _S), ("connector_id", _S), ("connector_name", _S)],
        [(visible.catalog, visible.catalog, "iceberg"), (SYSTEM_CATALOG, SYSTEM_CATALOG, "system")],
    )


def _table_comments(visible: Visible) -> pa.Table:
    return _build(
        [("catalog_name", _S), ("schema_name", _S), ("table_name", _S), ("comment", _S)],
        ((visible.catalog, v.table.schema, v.table.name, v.table.comment) for v in visible.tables),
    )


def _jdbc_schemas(visible: Visible) -> pa.Table:
    names = sorted({*visible.schemas, INFORMATION_SCHEMA})
    return _build([("table_schem", _S), ("table_catalog", _S)], ((s, visible.catalog) for s in names))


def _jdbc_tables(visible: Visible) -> pa.Table:
    names = ["table_cat", "table_schem", "table_name", "table_type", "remarks", "type_cat", "type_schem"]
    names += ["type_name", "self_referencing_col_name", "ref_generation"]
    return _build(
        [(name, _S) for name in names],
        (
            (visible.catalog, v.table.schema, v.table.name, "TABLE", v.table.comment, None, None, None, None, None)
            for v in visible.tables
        ),
    )


_JDBC_TYPES: dict[str, tuple[int, int | None, int | None]] = {
    "boolean": (16, None, None),
    "tinyint": (-6, 3, 10),
    "smallint": (5, 5, 10),
    "integer": (4, 10, 10),
    "bigint": (-5, 19, 10),
    "real": (7, 24, 2),
    "double": (8, 53, 2),
    "decimal": (3, None, 10),
    "varchar": (12, None, None),
    "varbinary": (-3, None, None),
    "date": (91, None, None),
    "time": (92, None, None),
    "time with time zone": (2013, None, None),
    "timestamp": (93, None, None),
    "timestamp with time zone": (2014, None, None),
    "array": (2003, None, None),
}
"""Trino type (without parameters) -> ``java.sql.Types`` code, column size and radix, as Trino's ``system.jdbc``
tables give them; other types (map, row, uuid) are ``JAVA_OBJECT`` (2000)."""


def _jdbc_type(trino_type: str) -> tuple[int, int | None, int | None, int | None]:
    """``java.sql.Types`` code, column size, decimal digits and radix of a Trino type name."""
    base, _, arguments = trino_type.partition("(")
    parameters = [part.strip() for part in arguments.split(")", 1)[0].split(",")] if arguments else []
    if base in ("time", "timestamp") and trino_type.endswith("with time zone"):
        base = f"{base} with time zone"
    code, size, radix = _JDBC_TYPES.get(base, (2000, None, None))
    digits = None
    if base == "decimal" and len(parameters) == 2:
        size, digits = int(parameters[0]), int(parameters[1])
    elif base.startswith(("time", "timestamp")) and parameters:
        digits = int(parameters[0])
    elif radix == 10:
        digits = 0
    return code, size, digits, radix


_JDBC_COLUMNS = [
    *((name, _S) for name in ("table_cat", "table_schem", "table_name", "column_name")),
    ("data_type", _L),
    ("type_name", _S),
    *((name, _L) for name in ("column_size", "buffer_length", "decimal_digits", "num_prec_radix", "nullable")),
    ("remarks", _S),
    ("column_def", _S),
    *((name, _L) for name in ("sql_data_type", "sql_datetime_sub", "char_octet_length", "ordinal_position")),
    *((name, _S) for name in ("is_nullable", "scope_catalog", "scope_schema", "scope_table")),
    ("source_data_type", _L),
    ("is_autoincrement", _S),
    ("is_generatedcolumn", _S),
]
_JDBC_TYPE_INFO = [
    ("type_name", _S),
    ("data_type", _L),
    ("precision", _L),
    *((name, _S) for name in ("literal_prefix", "literal_suffix", "create_params")),
    ("nullable", _L),
    ("case_sensitive", pa.bool_()),
    ("searchable", _L),
    *((name, pa.bool_()) for name in ("unsigned_attribute", "fixed_prec_scale", "auto_increment")),
    ("local_type_name", _S),
    *((name, _L) for name in ("minimum_scale", "maximum_scale", "sql_data_type", "sql_datetime_sub", "num_prec_radix")),
]
_NESTED = ("array", "map", "row")


def _jdbc_columns(visible: Visible) -> pa.Table:
    """What the Trino JDBC driver's ``getColumns`` reads (DBeaver's column browser, for one)."""
    rows = []
    for v in visible.tables:
        for position, c in enumerate(v.columns, start=1):
            code, size, digits, radix = _jdbc_type(c.type)
            nullable = (int(c.nullable), c.comment, None, None, None, None, position, "YES" if c.nullable else "NO")
            key = (visible.catalog, v.table.schema, v.table.name, c.name)
            rows.append((*key, code, c.type, size, None, digits, radix, *nullable, None, None, None, None, "NO", "NO"))
    return _build(_JDBC_COLUMNS, rows)


def _jdbc_types(visible: Visible) -> pa.Table:
    """The types the endpoint answers with, as the Trino JDBC driver's ``getTypeInfo`` reads them."""
    rows = []
    for name in [*_JDBC_TYPES, "map", "row", "uuid"]:
        code, size, radix = _JDBC_TYPES.get(name, (2000, None, None))
        searchable = 0 if name in _NESTED else 3
        flags = (1, name == "varchar", searchable, False, False, False)
        rows.append((name, code, size, None, None, None, *flags, None, None, None, None, None, radix))
    return _build(_JDBC_TYPE_INFO, rows)


def _jdbc_table_types(visible: Visible) -> pa.Table:
    return _build([("table_type", _S)], [("TABLE",), ("VIEW",)])


INFORMATION_SCHEMA_TABLES: dict[str, VirtualTable] = {
    "schemata": _schemata,
    "tables": _tables,
    "columns": _columns,
    "views": _views,
}
"""``information_schema`` tables, present in every catalog."""

SYSTEM_TABLES: dict[tuple[str, str], VirtualTable] = {
    ("jdbc", "catalogs"): _jdbc_catalogs,
    ("jdbc", "schemas"): _jdbc_schemas,
    ("jdbc", "tables"): _jdbc_tables,
    ("jdbc", "table_types"): _jdbc_table_types,
    ("jdbc", "columns"): _jdbc_columns,
    ("jdbc", "types"): _jdbc_types,
    ("metadata", "catalogs"): _metadata_catalogs,
    ("metadata", "table_comments"): _table_comments,
}
"""Tables of the ``system`` catalog that JDBC drivers and SQLAlchemy query."""


def show_create_table(catalog: str, table: LakeTable, hidden: frozenset[str] = frozenset()) -> str:
    """The ``CREATE TABLE`` statement Trino's Iceberg connector prints for a table, without the ``hidden`` columns
    (those the access rules hide from the user, as DESCRIBE does)."""
    columns = ",\n".join(
        f"   {c.name} {c.type}{'' if c.nullable else ' NOT NULL'}"
        + (f" COMMENT '{c.comment.replace(chr(39), chr(39) * 2)}'" if c.comment else "")
        for c in table.columns
        if c.name not in hidden
    )
    properties = [f"   format = '{table.table.properties.get('write.format.default', 'PARQUET').upper()}'"]
    partitioning = table.partition_columns()
    if partitioning:
        properties.append(f"   partitioning = ARRAY[{', '.join(repr(p) for p in partitioning)}]")
    properties.append(f"   location = '{table.table.location()}'")
    with_clause = ",\n".join(properties)
    return f"CREATE TABLE {catalog}.{table.schema}.{table.name} (\n{columns}\n)\nWITH (\n{with_clause}\n)"
