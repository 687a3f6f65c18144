"""Write a query result into an Iceberg table as one staged snapshot, then publish it or hold it back.

This is write-audit-publish on Iceberg branches: every write is one commit that resets the table's ``audit``
branch to the published head (``main``) and adds exactly one snapshot on it, whose parent is that head. Readers
of ``main`` (Feast, training, BI) see nothing until :func:`publish_staged_snapshot` fast-forwards ``main`` to it,
which happens only once the model's tests passed. A held-back snapshot stays on the ``audit`` branch for inspection.

Strategies (dbt's names): ``table`` replaces every file, ``append`` adds files, ``insert_overwrite`` replaces
the partitions the new rows fall in, ``merge`` rewrites the files holding rows whose ``unique_key`` comes
again (copy-on-write) and adds the new rows. The rows are a DuckDB query, written to Parquet by DuckDB itself
(:mod:`lake.data_files`): a large result is neither held in memory nor sorted by partition first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update.snapshot import ManageSnapshots
from pyiceberg.transforms import parse_transform

from lake.catalog import MERGED_MANIFESTS, LakeTransaction, list_table_names, manage_snapshots, merging_overwrite
from lake.data_files import delete_data_files, write_data_files
from lake.duck import parquet_files_sql, quote_identifier
from lake.errors import TransformError
from lake.tables import file_system_path

STRATEGIES = ("table", "append", "insert_overwrite", "merge")
"""Write strategies, by the names dbt users know from ``incremental_strategy``."""
UNSTORABLE_TYPES = {
    "TIME WITH TIME ZONE": "a TIMESTAMPTZ, or a TIME in UTC",
    "INTERVAL": "a number, e.g. epoch(interval) seconds",
    "TIMESTAMP_NS": "a TIMESTAMP (microseconds)",
    "BIGNUM": "a DECIMAL(38, 0) or a VARCHAR",
    "UNION": "one type, e.g. a VARCHAR",
}
"""DuckDB column types (by name, without parameters) Iceberg has no type for, with what to cast them to: written
as they are, a TIMETZ would lose its offset and the others fail deep in pyiceberg's schema conversion."""
UNCHANGED = "unchanged"
"""The ``strategy`` of a write not made: the published snapshot already holds its result (:func:`unchanged_write`)."""
FINGERPRINT_PROPERTY = "lake.inputs-fingerprint"
"""Snapshot summary property: the fingerprint of the query and inputs the snapshot was written from."""
INPUTS_PROPERTY = "lake.input-snapshots"
"""Snapshot summary property: JSON object of the lake tables the snapshot was written from and the snapshot read."""
AUDIT_BRANCH = "audit"
"""Branch that holds a written but not yet published snapshot."""
_PARTITION_FIELD = re.compile(r"^\s*(?:(\w+)\s*\(\s*(\w+)\s*\)|(\w+))\s*$")


@dataclass(frozen=True)
class StagedWrite:
    """What one model write did: the staged snapshot and its counts."""

    table: str
    strategy: str
    snapshot_id: int
    published_snapshot_id: int | None
    rows_written: int
    files_added: int
    files_removed: int
    seconds: float
    added_files: tuple[str, ...]
    """Paths of the data files the snapshot added: its new rows, and for ``merge`` the kept rows of the files it
    rewrote. An incremental write is tested on these; the table's other files were tested when written."""


def write_staged_snapshot(
    catalog: Catalog,
    identifier: str,
    connection: duckdb.DuckDBPyConnection,
    query: str,
    strategy: str,
    unique_key: str | None = None,
    partition_by: Sequence[str] | str = (),
    properties: Mapping[str, str] | None = None,
) -> StagedWrite:
    """Write ``rows`` into ``identifier`` as one snapshot on the ``audit`` branch (``main`` is left alone).

    Args:
        catalog: the Iceberg catalog.
        identifier: ``namespace.table``; created (with ``partition_by``) when it does not exist.
        connection: the DuckDB connection to run ``query`` on.
        query: the rows to write (a DuckDB query).
        strategy: one of :data:`STRATEGIES`.
        unique_key: key column for ``merge``.
        partition_by: partition fields for a new table, e.g. ``["day(transaction_at)", "region"]`` (a single
            field may be given as a plain string, as dbt configs often are).
        properties: added to the snapshot summary (the dbt invocation id and model name).

    Returns:
        The staged snapshot and what went into it.

    Raises:
        TransformError: unknown strategy, missing or unknown unique key, bad partition field, or rows whose
            schema the existing table cannot take (the message says to run a full refresh).
    """
    started = time.perf_counter()
    result = connection.execute(f"SELECT * FROM ({query}) LIMIT 0")
    _check_storable(identifier, result.description or [])
    schema = _storable_schema(result.to_arrow_table().schema)
    _check_strategy(strategy, unique_key, schema)
    fields = [partition_by] if isinstance(partition_by, str) else partition_by
    table = _load_or_create_table(catalog, identifier, schema, fields)
    if strategy == "table":
        table = _evolve_schema_for_replace(table, schema)
    else:
        _check_compatible(table, schema)
    base = _published_head(table)
    added: list[DataFile] = []
    committing = False
    try:
        with LakeTransaction(table) as txn:
            # one commit: the audit branch is reset to the published head and the snapshot written on it
            ManageSnapshots(txn).create_branch(base.snapshot_id, AUDIT_BRANCH).commit()
            summary = dict(properties or {})
            producer = (
                txn.update_snapshot(summary, branch=AUDIT_BRANCH).merge_append()
                if strategy == "append"
                else merging_overwrite(txn, table.io, summary, AUDIT_BRANCH)
            )
            rows_written, added = write_data_files(connection, query, schema.names, table, txn.table_metadata)
            live = _data_files(table, base)
            removed = _files_replaced(strategy, live, added)
            if strategy == "merge" and unique_key is not None:
                rewritten, removed = _rewrite_without_keys(
                    connection, table, txn.table_metadata, live, unique_key, added
                )
                added.extend(rewritten)
            for data_file in removed:
                producer.delete_data_file(data_file)
            for data_file in added:
                producer.append_data_file(data_file)
            producer.commit()
            committing = True  # the catalog commit happens as the block ends
    except Exception as error:
        # files no snapshot will reference; but after a commit whose outcome is unknown they may be referenced
        if not committing or isinstance(error, CommitFailedException):
            delete_data_files(table, [data_file.file_path for data_file in added])
        raise
    return StagedWrite(
        table=identifier,
        strategy=strategy,
        snapshot_id=table.metadata.refs[AUDIT_BRANCH].snapshot_id,  # the commit updated ``table`` in place
        published_snapshot_id=base.snapshot_id,
        rows_written=rows_written,
        files_added=len(added),
        files_removed=len(removed),
        seconds=time.perf_counter() - started,
        added_files=tuple(data_file.file_path for data_file in added),
    )


def unchanged_write(catalog: Catalog, identifier: str, fingerprint: str) -> StagedWrite | None:
    """The write not to make when the published snapshot was written from the same query and inputs.

    Args:
        catalog: the Iceberg catalog.
        identifier: ``namespace.table``.
        fingerprint: the fingerprint of the query about to be written (see :mod:`lake.query_inputs`).

    Returns:
        A :class:`StagedWrite` of strategy :data:`UNCHANGED` naming the published snapshot (nothing added), or
        ``None`` when the table must be written: it does not exist or its published snapshot came from other
        inputs.
    """
    started = time.perf_counter()
    try:
        head = catalog.load_table(identifier).current_snapshot()
    except NoSuchTableError:
        return None
    if head is None or head.summary is None or head.summary.get(FINGERPRINT_PROPERTY) != fingerprint:
        return None
    return StagedWrite(
        table=identifier,
        strategy=UNCHANGED,
        snapshot_id=head.snapshot_id,
        published_snapshot_id=head.snapshot_id,
        rows_written=0,
        files_added=0,
        files_removed=0,
        seconds=time.perf_counter() - started,
        added_files=(),
    )


def inputs_read(table: Table) -> dict[str, int]:
    """The snapshot of each lake table the published snapshot of ``table`` was written from (:data:`INPUTS_PROPERTY`;
    empty when it records none, e.g. a table not written by a dbt model)."""
    head = table.current_snapshot()
    recorded = head.summary.get(INPUTS_PROPERTY) if head is not None and head.summary is not None else None
    return {name: int(snapshot_id) for name, snapshot_id in json.loads(recorded or "{}").items()}


def recorded_inputs(catalog: Catalog) -> dict[str, set[int]]:
    """:func:`inputs_read` of every table of the catalog, by input table.

    A model's next incremental build asks its inputs what changed since these (:mod:`lake.changes`), so table
    maintenance keeps them whatever their age.
    """
    inputs: dict[str, set[int]] = {}
    for name in list_table_names(catalog):
        for table, snapshot_id in inputs_read(catalog.load_table(name)).items():
            inputs.setdefault(table, set()).add(snapshot_id)
    return inputs


def publish_staged_snapshot(catalog: Catalog, identifier: str, snapshot_id: int) -> int:
    """Fast-forward ``main`` to the staged snapshot and drop the ``audit`` branch.

    Args:
        catalog: the Iceberg catalog.
        identifier: ``namespace.table``.
        snapshot_id: the staged snapshot (as returned by :func:`write_staged_snapshot`).

    Returns:
        The snapshot id now published.

    Raises:
        TransformError: the staged snapshot is gone, or ``main`` moved since the write (not a fast-forward).
    """
    table = catalog.load_table(identifier)
    staged = table.snapshot_by_id(snapshot_id)
    audit = table.metadata.refs.get(AUDIT_BRANCH)
    if staged is None or audit is None or audit.snapshot_id != snapshot_id:
        raise TransformError(
            f"cannot publish {identifier}: snapshot {snapshot_id} is no longer the head of its '{AUDIT_BRANCH}' "
            "branch (another run wrote the table since); run the build again"
        )
    head = table.current_snapshot()
    if head is not None and staged.parent_snapshot_id != head.snapshot_id:
        raise TransformError(
            f"cannot publish {identifier}: its published snapshot moved to {head.snapshot_id} while snapshot "
            f"{snapshot_id} was staged on {staged.parent_snapshot_id}; run the build again"
        )
    manage_snapshots(table).set_current_snapshot(snapshot_id=snapshot_id).remove_branch(AUDIT_BRANCH).commit()
    return snapshot_id


def parse_partition_field(text: str) -> tuple[str, str]:
    """Split ``day(transaction_at)`` into ``("transaction_at", "day")``; a bare column is ``identity``.

    Raises:
        TransformError: the text is neither ``transform(column)`` nor a column name.
    """
    match = _PARTITION_FIELD.match(text)
    if match is None:
        raise TransformError(f"partition_by entry {text!r} must be a column or transform(column), e.g. day(ts)")
    transform, column, bare = match.groups()
    return (column, transform) if bare is None else (bare, "identity")


def _check_storable(identifier: str, description: Sequence[tuple[object, ...]]) -> None:
    columns = ((str(column[0]), str(column[1])) for column in description)
    casts = [
        f"{name} ({kind}) to {UNSTORABLE_TYPES[base]}"
        for name, kind in columns
        if (base := kind.split("(", 1)[0]) in UNSTORABLE_TYPES
    ]
    if casts:
        raise TransformError(
            f"{identifier}: Iceberg has no type for some result columns; cast them in the model: {'; '.join(casts)}"
        )


def _storable_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with unsigned integers widened to a type holding all their values: Iceberg's integers are signed,
    and pyiceberg would make a UINTEGER an Iceberg ``int`` (values from 2^31 fail) and a UBIGINT a ``long`` (half
    of ``hash()``'s values fail). UINTEGER becomes ``long``, UBIGINT ``decimal(20, 0)``, also inside nested types;
    the Trino endpoint shows DuckDB's unsigned types the same way."""
    return pa.schema([field.with_type(_storable_type(field.type)) for field in schema], metadata=schema.metadata)


def _storable_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_uint32(kind):
        return pa.int64()
    if pa.types.is_uint64(kind):
        return pa.decimal128(20, 0)
    if pa.types.is_struct(kind):
        fields = [kind.field(index) for index in range(kind.num_fields)]
        widened = pa.struct([field.with_type(_storable_type(field.type)) for field in fields])
    elif pa.types.is_map(kind):
        key, item = kind.key_field, kind.item_field
        widened = pa.map_(key.with_type(_storable_type(key.type)), item.with_type(_storable_type(item.type)))
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        widened = pa.list_(kind.value_field.with_type(_storable_type(kind.value_type)))
    else:
        return kind
    return kind if str(widened) == str(kind) else widened


def _check_strategy(strategy: str, unique_key: str | None, schema: pa.Schema) -> None:
    if strategy not in STRATEGIES:
        raise TransformError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy == "merge" and (unique_key is None or unique_key not in schema.names):
        raise TransformError(
            f"strategy 'merge' needs unique_key naming one result column (got {unique_key!r}; "
            f"columns: {', '.join(schema.names)})"
        )


def _load_or_create_table(catalog: Catalog, identifier: str, schema: pa.Schema, partition_by: Sequence[str]) -> Table:
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        pass
    fields = [parse_partition_field(text) for text in partition_by]
    for column, _ in fields:
        if column not in schema.names:
            raise TransformError(f"partition column {column!r} of {identifier} is not a result column")
    with catalog.create_table_transaction(identifier, schema=schema, properties=MERGED_MANIFESTS) as txn:
        if fields:
            with txn.update_spec() as spec:
                for column, transform in fields:
                    name = column if transform == "identity" else f"{column}_{transform}"
                    spec.add_field(column, parse_transform(transform), name)
        txn.update_snapshot().fast_append().commit()
    return catalog.load_table(identifier)


def _evolve_schema_for_replace(table: Table, schema: pa.Schema) -> Table:
    """A full replace may change the columns: add new ones, drop those the query no longer returns."""
    current = {field.name for field in table.schema().fields}
    if current == set(schema.names):
        return table
    try:
        with table.update_schema() as update:
            update.union_by_name(schema)
            for name in current - set(schema.names):
                update.delete_column(name)
    except ValueError as error:
        raise TransformError(
            f"cannot change the columns of {'.'.join(table.name())} in place: {error}. Drop the table "
            "(or rename the model) and build again"
        ) from None
    return table.refresh()


def _check_compatible(table: Table, schema: pa.Schema) -> None:
    try:
        _check_pyarrow_schema_compatible(table.schema(), provided_schema=schema)
    except ValueError as error:
        raise TransformError(
            f"the query's columns no longer match table {'.'.join(table.name())}: {error}. Rebuild it with "
            "'dbt build --full-refresh --select <model>'"
        ) from None


def _published_head(table: Table) -> Snapshot:
    base = table.current_snapshot()
    if base is None:
        raise TransformError(
            f"table {'.'.join(table.name())} has no snapshot on main to stage a write on; drop it or write one"
        )
    return base


def _data_files(table: Table, snapshot: Snapshot | None) -> list[DataFile]:
    """The live data files of ``snapshot`` written with the table's current partition spec (the only one used)."""
    if snapshot is None:
        return []
    spec_id = table.spec().spec_id
    return [
        entry.data_file
        for manifest in snapshot.manifests(table.io)
        if manifest.partition_spec_id == spec_id
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
        if entry.data_file.content == DataFileContent.DATA
    ]


def _files_replaced(strategy: str, live: list[DataFile], added: list[DataFile]) -> list[DataFile]:
    if strategy == "table":
        return live
    if strategy == "insert_overwrite":
        touched = {data_file.partition for data_file in added}
        return [data_file for data_file in live if data_file.partition in touched]
    return []


def _rewrite_without_keys(
    connection: duckdb.DuckDBPyConnection,
    table: Table,
    metadata: TableMetadata,
    live: list[DataFile],
    unique_key: str,
    added: list[DataFile],
) -> tuple[list[DataFile], list[DataFile]]:
    """Copy-on-write: the live files holding a key the new rows bring again are rewritten without those rows.

    Returns:
        The rewritten files and the files they replace.
    """
    if not live or not added:
        return [], []
    key = quote_identifier(unique_key)
    new_keys = f"(SELECT DISTINCT {key} FROM {parquet_files_sql([data_file.file_path for data_file in added])})"
    holding = f"{parquet_files_sql([data_file.file_path for data_file in live], filename=True)} AS old"
    hit = {
        file_system_path(path)  # DuckDB names a local file without the scheme its data file path has
        for (path,) in connection.execute(
            f"SELECT DISTINCT old.filename FROM {holding} SEMI JOIN {new_keys} AS new ON old.{key} = new.{key}"
        ).fetchall()
    }
    removed = [data_file for data_file in live if file_system_path(data_file.file_path) in hit]
    if not removed:
        return [], []
    kept = (
        f"SELECT old.* FROM {parquet_files_sql([data_file.file_path for data_file in removed])} AS old "
        f"ANTI JOIN {new_keys} AS new ON old.{key} = new.{key}"
    )
    columns = [field.name for field in metadata.schema().fields]
    return write_data_files(connection, kept, columns, table, metadata)[1], removed
