"""What the lake offline store reads through: Iceberg tables of ``IcebergSource``s, scanned by DuckDB.

Setting up is the expensive part of a small read: loading DuckDB's iceberg and avro extensions (and httpfs for
an S3 warehouse) takes tenths of a second per connection and building a pyiceberg catalog client opens a
database engine. So one in-memory DuckDB database per process keeps the extensions loaded and every read gets
its own cursor on it (cursors share the loaded extensions and S3 secret but not registered tables), and each
distinct catalog of the sources is built once per process (``load_table`` still reads the table's current
metadata every time).
"""

from __future__ import annotations

import json
import threading

import duckdb
from feast.data_source import DataSource
from feast.infra.data_sources.contrib.iceberg_catalog.iceberg_source import IcebergSource
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from lake.duck import connect, iceberg_scan_sql
from lake.errors import FeaturesError
from lake.settings import Settings

_lock = threading.Lock()
_databases: dict[str, duckdb.DuckDBPyConnection] = {}
_catalogs: dict[str, Catalog] = {}

SESSION_SQL = (
    "SET TimeZone = 'UTC'",
    # DuckDB plans an ASOF join whose left side it estimates small as a nested-loop join plus an arg_max
    # aggregate; registered Arrow entity frames are estimated small whatever their size, and that plan is
    # quadratic (10k entity rows over 200k feature rows: 4 s instead of 0.3 s). Always use the ASOF operator.
    "SET asof_loop_join_threshold = 0",
)


def lake_cursor(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A new DuckDB cursor on the process's lake database (extensions loaded, UTC, ASOF joins planned as such).

    Args:
        settings: the settings whose DuckDB threads, memory limit and S3 access the database uses.

    Returns:
        A connection of its own: what it registers is invisible to other cursors.
    """
    key = settings.model_dump_json(include={"duckdb", "catalog"})
    with _lock:
        database = _databases.get(key)
        if database is None:
            database = _databases[key] = connect(settings)
        cursor = database.cursor()
    for statement in SESSION_SQL:
        cursor.execute(statement)
    return cursor


def iceberg_source(data_source: DataSource | None) -> IcebergSource:
    """The data source as an ``IcebergSource``.

    Raises:
        FeaturesError: it is another kind of source.
    """
    if not isinstance(data_source, IcebergSource):
        kind = type(data_source).__name__
        raise FeaturesError(f"the lake offline store reads IcebergSource only; got {kind} ({data_source!r})")
    return data_source


def _catalog(source: IcebergSource) -> Catalog:
    key = json.dumps(
        [source.catalog_type, source.catalog_name, source.endpoint, source.warehouse, source.catalog_properties],
        sort_keys=True,
    )
    with _lock:
        catalog = _catalogs.get(key)
        if catalog is None:
            catalog = _catalogs[key] = source.get_catalog_client()
    return catalog


def load_source_table(source: IcebergSource) -> Table:
    """The Iceberg table of ``source``, at its current snapshot.

    Raises:
        FeaturesError: the catalog cannot be reached or has no such table.
    """
    name = f"{source.namespace}.{source.iceberg_table}"
    try:
        return _catalog(source).load_table(name)
    except Exception as error:
        raise FeaturesError(
            f"cannot load Iceberg table {name} of data source {source.name!r}: {error}. "
            "Build it first (dbt build) or fix the source's catalog."
        ) from None


def source_scan_sql(data_source: DataSource | None) -> str:
    """SQL table expression over the source's table at its current snapshot (empty if it has none yet).

    Raises:
        FeaturesError: the source is not an ``IcebergSource`` or its table cannot be loaded.
    """
    return table_scan_sql(load_source_table(iceberg_source(data_source)))


def table_scan_sql(table: Table) -> str:
    """SQL table expression over an Iceberg table at its current snapshot (empty if it has none yet)."""
    if table.current_snapshot() is None:
        return f"(SELECT * FROM {iceberg_scan_sql(table)} LIMIT 0)"
    return iceberg_scan_sql(table)
