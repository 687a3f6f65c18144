"""Write a DuckDB query's rows as data files of an Iceberg table, with DuckDB's own Parquet writer.

DuckDB writes the files (``COPY ... TO`` with ``PARTITION_BY``): in parallel, one file per partition, and with
no sort of the rows first, so a model's result never leaves DuckDB. Each column is cast to the table's type and
carries the table's field id, which is what Iceberg readers match columns by; pyiceberg then reads each file's
footer for the column statistics and the partition value of the ``DataFile`` it commits (as its ``add_files``
does). Codec, level and (for an unpartitioned table) target file size come from the table's ``write.*``
properties.

A write that fails leaves no file behind: its files carry the write's own id in their names, so those of a COPY
that failed halfway are found and deleted, and so are the written ones when describing them fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import duckdb
from pyarrow import Codec
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, TableProperties
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lake.duck import quote_identifier as quote
from lake.duck import sql_literal
from lake.errors import TransformError
from lake.stored_files import delete_stored_files, list_stored_files, table_file_system

_PRIMITIVES: dict[type[IcebergType], str] = {
    BooleanType: "BOOLEAN",
    IntegerType: "INTEGER",
    LongType: "BIGINT",
    FloatType: "FLOAT",
    DoubleType: "DOUBLE",
    DateType: "DATE",
    TimeType: "TIME",
    TimestampType: "TIMESTAMP",
    TimestamptzType: "TIMESTAMPTZ",
    StringType: "VARCHAR",
    BinaryType: "BLOB",
    UUIDType: "UUID",
}
_TARGET_SIZE = TableProperties.WRITE_TARGET_FILE_SIZE_BYTES
_TARGET_SIZE_DEFAULT = TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT
_TIME_TRANSFORMS = ("year", "month", "day", "hour")


def write_data_files(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    columns: Collection[str],
    table: Table,
    metadata: TableMetadata,
) -> tuple[int, list[DataFile]]:
    """Write the rows of ``query`` into new data files under ``table``'s data folder.

    Args:
        connection: the DuckDB connection the query runs on (with the lake's S3 access, if any).
        query: the rows to write.
        columns: the query's columns; a table column the query lacks is written as nulls.
        table: the table the files are for (location and file IO).
        metadata: the table metadata the files are described against (schema, partition spec, properties).

    Returns:
        The number of rows written and the new files (none when there were no rows).

    Raises:
        TransformError: the table has a column type or partition transform the lake cannot write.
        duckdb.Error: the query failed (nothing is left written).
    """
    schema, spec = metadata.schema(), metadata.spec()
    write_id = uuid.uuid4().hex
    values = (quote(field.name) if field.name in columns else "NULL" for field in schema.fields)
    casts = (
        f"CAST({value} AS {duckdb_type(field.field_type)}) AS {quote(field.name)}"
        for value, field in zip(values, schema.fields, strict=True)
    )
    rows, layout = partitioned_layout(f"SELECT {', '.join(casts)} FROM ({query})", spec, schema)
    options = [
        "FORMAT parquet",
        *_compression(metadata),
        f"FILENAME_PATTERN '{_file_prefix(write_id)}{{uuid}}'",
        f"FIELD_IDS {_field_ids(schema.fields)}",
        "APPEND true",
        "RETURN_FILES true",
        *layout,
    ]
    if not layout:  # DuckDB splits by size only when it does not partition: one file per partition value then
        options.append(f"FILE_SIZE_BYTES {_property(metadata, _TARGET_SIZE, _TARGET_SIZE_DEFAULT)}")
    folder = f"{table.location().rstrip('/')}/data"
    copy = f"COPY ({rows}) TO {sql_literal(folder)} ({', '.join(options)})"
    try:
        row = connection.execute(copy).fetchone()
    except duckdb.Error:
        _delete_files_of_write(table, folder, write_id)
        raise
    count, written = (int(row[0]), list(row[1])) if row else (0, [])
    paths = [_as_location_uri(path, folder) for path in written]
    if not count:
        delete_data_files(table, paths)
        return 0, []
    try:
        return count, [parquet_file_to_data_file(table.io, metadata, path) for path in paths]
    except Exception:
        delete_data_files(table, paths)
        raise


def delete_data_files(table: Table, paths: Collection[str]) -> None:
    """Delete files written for ``table`` that no snapshot will reference."""
    for path in paths:
        table.io.delete(path)


def _file_prefix(write_id: str) -> str:
    return f"data_{write_id}_"


def _delete_files_of_write(table: Table, folder: str, write_id: str) -> None:
    """Delete what a failed COPY of write ``write_id`` left under ``folder`` (in any partition's folder)."""
    fs, root = table_file_system(table.io, folder)
    prefix = _file_prefix(write_id)
    delete_stored_files(
        fs, [f.path for f in list_stored_files(fs, root) if PurePosixPath(f.path).name.startswith(prefix)]
    )


def duckdb_type(field_type: IcebergType) -> str:
    """The DuckDB type a column of ``field_type`` is written as.

    Raises:
        TransformError: the lake cannot write that type.
    """
    if isinstance(field_type, DecimalType):
        return f"DECIMAL({field_type.precision}, {field_type.scale})"
    if isinstance(field_type, ListType):
        return f"{duckdb_type(field_type.element_type)}[]"
    if isinstance(field_type, MapType):
        return f"MAP({duckdb_type(field_type.key_type)}, {duckdb_type(field_type.value_type)})"
    if isinstance(field_type, StructType):
        return f"STRUCT({', '.join(f'{quote(f.name)} {duckdb_type(f.field_type)}' for f in field_type.fields)})"
    for iceberg_type, name in _PRIMITIVES.items():
        if isinstance(field_type, iceberg_type):
            return name
    raise TransformError(f"the lake cannot write Iceberg columns of type {field_type}")


def _field_ids(fields: tuple[NestedField, ...]) -> str:
    """DuckDB's ``FIELD_IDS`` value: column name to field id, nested as ``{__duckdb_field_id: id, child: ...}``."""
    ids = (f"{quote(field.name)}: {_field_id(field.field_id, field.field_type)}" for field in fields)
    return "{" + ", ".join(ids) + "}"


def _field_id(field_id: int, field_type: IcebergType) -> str:
    children: dict[str, tuple[int, IcebergType]] = {}
    if isinstance(field_type, ListType):
        children = {"element": (field_type.element_id, field_type.element_type)}
    elif isinstance(field_type, MapType):
        children = {
            "key": (field_type.key_id, field_type.key_type),
            "value": (field_type.value_id, field_type.value_type),
        }
    elif isinstance(field_type, StructType):
        children = {field.name: (field.field_id, field.field_type) for field in field_type.fields}
    if not children:
        return str(field_id)
    nested = ", ".join(f"{quote(name)}: {_field_id(*child)}" for name, child in children.items())
    return f"{{__duckdb_field_id: {field_id}, {nested}}}"


def partitioned_layout(query: str, spec: PartitionSpec, schema: Schema) -> tuple[str, list[str]]:
    """The rows of ``query`` and the ``COPY`` options that write them in ``spec``'s layout, one file per partition.

    Returns:
        ``query`` with a column per partition field appended, and the ``PARTITION_BY`` option on those columns;
        ``query`` itself and no option for an unpartitioned spec.

    Raises:
        TransformError: a partition transform the lake cannot write.
    """
    partitions = _partition_columns(spec, schema)
    if not partitions:
        return query, []
    keys = ", ".join(f"{expression} AS {quote(name)}" for name, expression in partitions.items())
    return f"SELECT *, {keys} FROM ({query})", [f"PARTITION_BY ({', '.join(map(quote, partitions))})"]


def _partition_columns(spec: PartitionSpec, schema: Schema) -> dict[str, str]:
    """A column per partition field holding the field's Iceberg value (``day``: days since 1970 in UTC): DuckDB
    writes one folder, and file, per value.

    pyiceberg derives each file's partition from its statistics and refuses a file whose rows disagree, so a
    mistake here fails the write rather than misplacing rows.
    """
    names = {field.name for field in schema.fields}
    columns: dict[str, str] = {}
    for field in spec.fields:
        source = schema.find_field(field.source_id)
        column, transform = quote(source.name), str(field.transform)
        if transform == "identity":
            expression = column
        elif transform in _TIME_TRANSFORMS:
            # the UTC wall time as a plain TIMESTAMP: no time zone arithmetic per row
            moment = f"make_timestamp(epoch_us({column}))" if isinstance(source.field_type, TimestamptzType) else column
            expression = f"datediff('{transform}', TIMESTAMP '1970-01-01', {moment})"
        else:
            raise TransformError(
                f"the lake writes tables partitioned by identity, year, month, day or hour; {field.name} is "
                f"{transform}({source.name})"
            )
        columns[field.name if field.name not in names else f"{field.name}_partition"] = expression
    return columns


def _compression(metadata: TableMetadata) -> list[str]:
    codec = _property(metadata, TableProperties.PARQUET_COMPRESSION, TableProperties.PARQUET_COMPRESSION_DEFAULT)
    options = [f"COMPRESSION {codec}"]
    if codec == "zstd":
        default = Codec.default_compression_level(codec)
        options.append(f"COMPRESSION_LEVEL {_property(metadata, TableProperties.PARQUET_COMPRESSION_LEVEL, default)}")
    return options


def _property(metadata: TableMetadata, name: str, default: object) -> str:
    value = metadata.properties.get(name)
    return str(default if value is None else value)


def _as_location_uri(path: str, folder: str) -> str:
    """DuckDB returns local paths without the ``file://`` of the table's location; data files keep the scheme."""
    scheme = urlsplit(folder).scheme
    return f"{scheme}://{path}" if scheme == "file" and not urlsplit(path).scheme else path
