"""DuckDB sessions over the lake: Iceberg tables exposed as views, read straight from their files.

DuckDB's iceberg extension cannot talk to a SQL catalog, so each table becomes a view over
``iceberg_scan(<current metadata file>)``: filters and projections are pushed into the scan (partition and
file pruning), and nothing is loaded into Python memory. Extensions come from the ``duckdb-extension-*`` PyPI
packages, so nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import duckdb_extensions
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from lake.catalog import list_table_names
from lake.settings import Settings, get_settings

EXTENSIONS = ("avro", "iceberg")
"""Loaded into every connection, in this order (iceberg needs avro)."""
S3_EXTENSION = "httpfs"
"""Loaded too when the warehouse is not local: it reads s3:// files (loading it costs ~80 ms per connection)."""


def connect(
    settings: Settings | None = None, database: str | Path = ":memory:", read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection with the Iceberg extension loaded and S3 credentials of the profile.

    Args:
        settings: settings to use; default: the process settings.
        database: DuckDB database file, or ``:memory:``.
        read_only: open the database file read-only.
    """
    settings = settings or get_settings()
    con = duckdb.connect(str(database), read_only=read_only)
    prepare_connection(con, settings)
    return con


def prepare_connection(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Load the bundled extensions into an open connection and configure threads, memory and S3 access.

    DuckDB's progress bar is off: its redraws would land in the middle of dbt's, the CLI's and the benchmarks'
    own output.
    """
    for name in EXTENSIONS if settings.warehouse_is_local else (*EXTENSIONS, S3_EXTENSION):
        duckdb_extensions.import_extension(name, con=con)
        con.execute(f"LOAD {name}")
    con.execute("SET enable_progress_bar = false")
    if settings.duckdb.threads:
        con.execute(f"SET threads = {int(settings.duckdb.threads)}")
    if settings.duckdb.memory_limit:
        con.execute("SET memory_limit = ?", [settings.duckdb.memory_limit])
    if not settings.warehouse_is_local:
        con.execute(_s3_secret_sql(settings))


def confine_to_warehouse(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Let the connection open files under the warehouse only, and change no setting from now on.

    For a connection that runs SQL other people wrote (the SQL endpoint): DuckDB reads any file the process can
    (a quoted path is a table to it), so whatever reaches it past the endpoint's own checks reads the lake's
    files at most, never the server's. Spilling to DuckDB's temporary directory is unaffected.
    """
    warehouse = settings.catalog.warehouse or ""
    root = urlparse(warehouse).path if settings.warehouse_is_local else warehouse
    con.execute("SET allowed_directories = [?]", [root.rstrip("/") + "/"])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _s3_secret_sql(settings: Settings) -> str:
    """DuckDB's S3 secret for the warehouse: region and keys, and for an S3-compatible endpoint (MinIO) its host,
    path-style URLs and TLS as the endpoint's scheme says."""
    catalog = settings.catalog
    parts = ["TYPE s3", f"REGION {sql_literal(catalog.s3_region)}"]
    if catalog.s3_access_key_id:
        parts.append(f"KEY_ID {sql_literal(catalog.s3_access_key_id)}")
    if catalog.s3_secret_access_key:
        parts.append(f"SECRET {sql_literal(catalog.s3_secret_access_key.get_secret_value())}")
    if catalog.s3_endpoint:
        endpoint = catalog.s3_endpoint
        parts += [
            f"ENDPOINT {sql_literal(endpoint.split('://', 1)[-1].rstrip('/'))}",
            "URL_STYLE 'path'",
            f"USE_SSL {'false' if endpoint.startswith('http://') else 'true'}",
        ]
    return f"CREATE OR REPLACE SECRET lakeforge_s3 ({', '.join(parts)})"


def sql_literal(value: str) -> str:
    """A DuckDB string literal, for SQL that takes no parameters (``CREATE SECRET``, file lists, generated SQL)."""
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(identifier: str) -> str:
    """Quote a column or table name for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


def parquet_files_sql(paths: Sequence[str], filename: bool = False) -> str:
    """SQL table expression over some data files of a table, read as plain Parquet.

    Hive partitioning is off (data file paths carry ``field=value`` folders that are no columns) and columns are
    matched by name across files; ``filename`` adds each row's file path as a ``filename`` column.
    """
    files = ", ".join(sql_literal(path) for path in paths)
    options = f"hive_partitioning = false, union_by_name = true, filename = {str(filename).lower()}"
    return f"read_parquet([{files}], {options})"


def iceberg_scan_sql(table: Table, snapshot_id: int | None = None) -> str:
    """SQL expression that scans ``table`` at its current snapshot, or at ``snapshot_id``."""
    location = sql_literal(table.metadata_location)
    if snapshot_id is None:
        return f"iceberg_scan({location})"
    return f"iceberg_scan({location}, snapshot_from_id = {int(snapshot_id)})"


def register_iceberg_views(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, tables: list[str] | None = None
) -> dict[str, int]:
    """Create one DuckDB schema per namespace and one view per Iceberg table, at its current snapshot.

    Tables without a snapshot yet (just created, never written) are skipped: there is nothing to scan.

    Args:
        con: an open connection (see :func:`connect`).
        catalog: the Iceberg catalog.
        tables: ``namespace.table`` names to expose; default: every table.

    Returns:
        The views created: each table's name and the snapshot its view reads.
    """
    created = {}
    for name in tables or list_table_names(catalog):
        table = catalog.load_table(name)
        snapshot = table.current_snapshot()
        if snapshot is None:
            continue
        namespace, table_name = name.split(".", 1)
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
        con.execute(f'CREATE OR REPLACE VIEW "{namespace}"."{table_name}" AS SELECT * FROM {iceberg_scan_sql(table)}')
        created[name] = snapshot.snapshot_id
    return created
