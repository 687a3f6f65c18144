"""The dbt-duckdb plugin that makes dbt read from and write to the lake (``plugins: [{module: lake.dbt_plugin}]``).

DuckDB is only the compute: when dbt opens its connection, every Iceberg table of the catalog becomes a view
over ``iceberg_scan`` of its published snapshot, so ``source()`` and ``ref()`` read the lake directly with
filters pushed into the scan. The project's ``iceberg`` materialization hands each model's SQL to
:meth:`Plugin.store`, which streams the result into the model's Iceberg table as a staged snapshot
(:mod:`lake.materialize`), keeps a record of it for the rest of the invocation and points the model's view at that
snapshot, so downstream models and tests read exactly what was written. For an incremental
write (``append``, ``merge``, ``insert_overwrite``) it also records ``delta_sql``, a scan of only the data files
the snapshot added: the project's ``get_where_subquery`` points the model's tests at it, since the rows already
published passed their tests when they were written. A full-replace model whose query and inputs (the snapshot
of every table it reads, see :mod:`lake.query_inputs`) are those its published snapshot was written from is not
written again: it is recorded as ``unchanged``, its view reads the published snapshot and its tests have no new
rows to read. Every write records the snapshot of each table it read; the macro ``first_changed_day`` asks the
plugin from which day an incremental model's input changed since then (:mod:`lake.changes`). The project's
``on-run-end`` hook calls :meth:`Plugin.store` again to publish the snapshots whose tests passed.

dbt-duckdb offers plugins one way in from a macro, ``adapter.store_relation``: the ``action`` key of the config
dict it passes says which job to do, and the plugin answers in that same dict, which the macro reads after the
call (see :data:`ACTIONS`). Asking so costs microseconds; a query through dbt's adapter costs milliseconds of
dbt's own bookkeeping, and the tests of a build ask once each.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dbt.adapters.base.relation import BaseRelation
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from dbt.adapters.events.logging import AdapterLogger
from duckdb import CatalogException, DuckDBPyConnection
from pyiceberg.table import Table
from pyiceberg.types import DateType, IcebergType, TimestamptzType

from lake.catalog import load_catalog
from lake.changes import ChangesUnknownError, first_changed_value, time_column
from lake.data_files import duckdb_type
from lake.duck import iceberg_scan_sql, parquet_files_sql, prepare_connection, quote_identifier, register_iceberg_views
from lake.errors import TransformError
from lake.materialize import (
    FINGERPRINT_PROPERTY,
    INPUTS_PROPERTY,
    UNCHANGED,
    StagedWrite,
    inputs_read,
    publish_staged_snapshot,
    unchanged_write,
    write_staged_snapshot,
)
from lake.query_inputs import query_fingerprint, query_inputs, unstable_functions
from lake.settings import load_settings

PII_KEY_VARIABLE = "lakeforge_pii_key"
"""DuckDB variable holding the key of the ``pii_token`` macro, so the key never appears in compiled SQL."""
ACTIONS = {
    "write": "write the model's `sql` as a staged snapshot and point the view `relation` at it; answers `staged`: "
    "status, snapshot_id, rows_written and scan_sql (the snapshot's scan)",
    "delta": "answers `delta`: the rows this invocation's incremental write of `relation` added, as a subquery "
    "(none when it was not written incrementally, or with `added_files_only` when it added no file)",
    "first_changed": "answers `sql`: the start (UTC) of the day of the earliest `column` value among the rows of "
    "`upstream` that changed since the published snapshot of `model` read it, as a constant of the column's own type "
    "(comparing a DATE column with a timestamp would cast every row); a typed NULL when none did, and the first day "
    "of READ_EVERYTHING when the lake cannot tell",
    "publish": "publish the models of `succeeded` not in `rejected`, hold back the others; answers `outcome`: "
    "relation, status (published, held back or unchanged), snapshot_id and published_snapshot_id of each write",
}
"""What a macro can ask :meth:`Plugin.store` (the config's ``action``), and what it answers in the config."""
READ_EVERYTHING = datetime(1, 1, 1, tzinfo=UTC)
"""What changed when the lake cannot tell: every row (not '-infinity', which DuckDB's Iceberg scan cannot prune
partitions with)."""
_logger = AdapterLogger("lake")


@dataclass
class _ModelWrite:
    """A model's write in the current invocation, as later actions need it."""

    model: str
    staged: StagedWrite
    delta_sql: str | None
    """The rows an incremental write added (see :func:`_delta_sql`); ``None`` for a full replace."""
    status: str
    """``staged`` or ``unchanged``; after the publish action ``published`` or ``held back``."""


class Plugin(BasePlugin):
    """Reads the lake into dbt's DuckDB session and writes models back to Iceberg.

    Profile config: ``profile`` (``local`` or ``cluster``; default: ``LAKEFORGE_PROFILE``) and ``pii_key``.
    Every other setting comes from :mod:`lake.settings`, the one source of truth.
    """

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Read the settings and open the catalog."""
        skip_final_garbage_collection()
        overrides = {"profile": plugin_config["profile"]} if plugin_config.get("profile") else {}
        self._settings = load_settings(**overrides)
        self._pii_key = str(plugin_config.get("pii_key") or "")
        self._catalog = load_catalog(self._settings)
        self._conn: DuckDBPyConnection | None = None
        self._snapshots: dict[str, int] = {}
        self._unstable: frozenset[str] = frozenset()
        self._invocation: str | None = None
        self._writes: dict[str, _ModelWrite] = {}
        self._writes_lock = threading.Lock()
        self._views_lock = threading.Lock()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Load the bundled extensions and expose every Iceberg table as a view."""
        prepare_connection(conn, self._settings)
        spill = self._settings.home / "tmp" / "duckdb"
        spill.mkdir(parents=True, exist_ok=True)
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET temp_directory = ?", [str(spill)])
        self._snapshots = register_iceberg_views(conn, self._catalog)
        self._unstable = unstable_functions(conn)
        self._conn = conn

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        """Give each cursor the time zone and the PII key (DuckDB keeps both per connection)."""
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(f"SET VARIABLE {PII_KEY_VARIABLE} = ?", [self._pii_key])

    def store(self, target_config: TargetConfig) -> None:
        """Do what the macro asked (one of :data:`ACTIONS`) and put the answer in its config.

        Raises:
            TransformError: an unknown action, or the action failed (the message says why).
        """
        config = target_config.config
        action = config.get("action")
        if action == "write":
            config["staged"] = self._write_model(target_config)
        elif action == "delta":
            config["delta"] = self._incremental_delta(
                config["invocation_id"], config["relation"], bool(config.get("added_files_only"))
            )
        elif action == "first_changed":
            config["sql"] = self._first_changed(config["model"], config["upstream"], config["column"])
        elif action == "publish":
            config["outcome"] = self._publish_models(
                config["invocation_id"], set(config["succeeded"]), set(config["rejected"])
            )
        else:
            raise TransformError(f"lake plugin action must be one of {', '.join(ACTIONS)}, not {action!r}")

    def _cursor(self) -> DuckDBPyConnection:
        if self._conn is None:
            raise TransformError("the lake plugin was asked to act before dbt opened its DuckDB connection")
        cursor = self._conn.cursor()
        self.configure_cursor(cursor)
        return cursor

    def _write_model(self, target_config: TargetConfig) -> dict[str, Any]:
        config = target_config.config
        relation = target_config.relation
        identifier = f"{relation.schema}.{relation.identifier}"
        cursor = self._cursor()
        try:
            inputs = query_inputs(cursor, config["sql"], self._snapshots, self._unstable)
            properties = {
                "dbt.invocation-id": config["invocation_id"],
                "dbt.model": config["model"],
                INPUTS_PROPERTY: json.dumps(inputs.snapshots),
            }
            fingerprint = None
            if config.get("skip_unchanged"):
                fingerprint = query_fingerprint(config["sql"], inputs, salt=self._pii_key)
            if fingerprint:
                properties[FINGERPRINT_PROPERTY] = fingerprint
            staged = (fingerprint and unchanged_write(self._catalog, identifier, fingerprint)) or write_staged_snapshot(
                self._catalog,
                identifier,
                cursor,
                config["sql"],
                strategy=config["strategy"],
                unique_key=config.get("unique_key"),
                partition_by=config.get("partition_by") or (),
                properties=properties,
            )
            self._snapshots[identifier] = staged.snapshot_id
            answer = self._record_write(config["invocation_id"], config["model"], staged)
            self._point_view(cursor, relation, answer["scan_sql"])
            return answer
        except CatalogException as error:
            raise TransformError(
                f"{identifier}: {error}. A model reads only tables that exist in the lake: 'lakeforge tables' lists "
                "them; raw tables come from 'lakeforge ingest'"
            ) from None
        finally:
            cursor.close()

    def _point_view(self, cursor: DuckDBPyConnection, relation: BaseRelation, scan_sql: str) -> None:
        """Make the model's view read ``scan_sql``; one at a time, as two first writes into a namespace would both
        create its schema."""
        with self._views_lock:
            cursor.execute(
                f"CREATE SCHEMA IF NOT EXISTS {relation.without_identifier()}; "
                f"CREATE OR REPLACE VIEW {relation} AS SELECT * FROM {scan_sql}"
            )

    def _writes_of(self, invocation_id: str) -> dict[str, _ModelWrite]:
        """The writes of invocation ``invocation_id`` by relation; a new invocation starts with none."""
        with self._writes_lock:
            if invocation_id != self._invocation:
                self._invocation, self._writes = invocation_id, {}
            return self._writes

    def _incremental_delta(self, invocation_id: str, relation: str, added_files_only: bool) -> str | None:
        """See :data:`ACTIONS` (``delta``)."""
        write = self._writes_of(invocation_id).get(relation)
        if write is None or (added_files_only and not write.staged.files_added):
            return None
        return write.delta_sql

    def _first_changed(self, model: str, upstream: str, column: str) -> str:
        """See :data:`ACTIONS` (``first_changed``); the inputs a model read are recorded in its snapshot's summary."""
        until = self._snapshots.get(upstream)
        if until is None:
            raise TransformError(f"{model} asks what changed in {upstream}, which is not a lake table with data")
        table = self._catalog.load_table(upstream)
        field_type = time_column(table, column)[1]
        try:
            read = inputs_read(self._catalog.load_table(model))
            if upstream not in read:
                raise ChangesUnknownError(
                    f"its published snapshot does not record which snapshot of {upstream} it read"
                )
            first = first_changed_value(table, read[upstream], until, column)
        except ChangesUnknownError as error:
            _logger.info(f"lake: {model} reads every row of {upstream}: {error}")
            first = READ_EVERYTHING
        return day_start_sql(first, field_type)

    def _record_write(self, invocation_id: str, model: str, staged: StagedWrite) -> dict[str, Any]:
        """Keep the write for the invocation's later actions; returns what the materialization reports and reads."""
        table = self._catalog.load_table(staged.table)
        scan = iceberg_scan_sql(table, staged.snapshot_id)
        status = UNCHANGED if staged.strategy == UNCHANGED else "staged"
        delta = _delta_sql(table, staged.added_files, scan) if staged.strategy != "table" else None
        self._writes_of(invocation_id)[staged.table] = _ModelWrite(model, staged, delta, status)
        return {
            "status": status,
            "snapshot_id": staged.snapshot_id,
            "rows_written": staged.rows_written,
            "scan_sql": scan,
        }

    def _publish_models(self, invocation_id: str, succeeded: set[str], rejected: set[str]) -> list[dict[str, Any]]:
        """See :data:`ACTIONS` (``publish``)."""
        outcome = []
        for relation, write in sorted(self._writes_of(invocation_id).items()):
            if write.status == "staged":
                publish = write.model in succeeded and write.model not in rejected
                if publish:
                    publish_staged_snapshot(self._catalog, relation, write.staged.snapshot_id)
                write.status = "published" if publish else "held back"
            outcome.append(
                {
                    "relation": relation,
                    "status": write.status,
                    "snapshot_id": write.staged.snapshot_id,
                    "published_snapshot_id": write.staged.published_snapshot_id,
                }
            )
        return outcome


@functools.cache
def skip_final_garbage_collection() -> None:
    """At exit, move every object into the permanent generation first, so Python's last collection skips them.

    A ``dbt`` process ends holding some 300,000 objects (the manifest, the compiled nodes, Jinja's and dbt's state);
    the full collection the interpreter runs while shutting down walks all of them: 1.3-1.9 s on 2 cores, on every
    ``dbt`` command (measured on a loaded machine, where a one-day build at 10M transactions took 28-36 s). Nothing
    here needs it: the in-memory DuckDB and the catalog hold nothing a collection would write out, and files and log
    handlers are flushed by their own exit hooks. Registered once per process, by the first plugin dbt creates.
    """
    atexit.register(gc.freeze)


def day_start_sql(moment: datetime | None, field_type: IcebergType) -> str:
    """A SQL constant of ``field_type`` (a date or timestamp type) for the start of the UTC day of ``moment``; a
    NULL of that type for none."""
    sql_type = duckdb_type(field_type)
    if moment is None:
        return f"CAST(NULL AS {sql_type})"
    day = moment.astimezone(UTC).date().isoformat()
    if isinstance(field_type, DateType):
        return f"{sql_type} '{day}'"
    return f"{sql_type} '{day} 00:00:00{'+00:00' if isinstance(field_type, TimestamptzType) else ''}'"


def _delta_sql(table: Table, files: Sequence[str], scan_sql: str) -> str:
    """A subquery over only ``files`` (the data files a staged snapshot added), with the table's columns; with no
    file added it is the snapshot's scan with no rows, so it keeps the columns."""
    columns = ", ".join(quote_identifier(field.name) for field in table.schema().fields)
    if not files:
        return f"(select {columns} from {scan_sql} limit 0)"
    return f"(select {columns} from {parquet_files_sql(files)})"
