"""Lakeforge's Feast offline store: point-in-time joins and materialization pulls in DuckDB over Iceberg files.

Feast's stock DuckDB store reads an ``IcebergSource`` by loading the whole table into memory. This store scans
the table's files with DuckDB's ``iceberg_scan`` (see :mod:`lake.duck`), pushes the entity time range into the
scan and joins with ``ASOF`` (see :mod:`lake.feast.queries`). Select it in ``feature_store.yaml``::

    offline_store:
      type: lake.feast.offline_store.LakeOfflineStore
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from feast.data_source import DataSource
from feast.feature_view import FeatureView
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage
from feast.infra.offline_stores.offline_store import OfflineStore, RetrievalJob, RetrievalMetadata
from feast.infra.offline_stores.offline_utils import infer_event_timestamp_from_entity_df
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.saved_dataset import SavedDatasetStorage
from pyiceberg.table import Table

from lake.catalog import LakeTransaction
from lake.errors import FeaturesError
from lake.feast.queries import (
    ENTITY_TABLE,
    ROW_ORDER_COLUMN,
    ViewRead,
    count_entities_sql,
    latest_rows_sql,
    point_in_time_sql,
    rows_in_range_sql,
)
from lake.feast.scans import iceberg_source, lake_cursor, load_source_table, source_scan_sql, table_scan_sql
from lake.settings import get_settings


class LakeOfflineStoreConfig(FeastConfigBaseModel):
    """``offline_store`` section of ``feature_store.yaml``; DuckDB threads and memory come from the settings."""

    type: Literal["lake.feast.offline_store.LakeOfflineStore"] = "lake.feast.offline_store.LakeOfflineStore"


class LakeRetrievalJob(RetrievalJob):
    """DuckDB queries over Iceberg files, run when the result is asked for: a pull's one query, or a point-in-time
    join's query per view, whose features are put beside the entity rows, in their order (see
    :func:`in_entity_order`)."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        queries: Sequence[str],
        on_demand_feature_views: list[OnDemandFeatureView] | None = None,
        full_feature_names: bool = False,
        metadata: RetrievalMetadata | None = None,
        entity_rows: pa.Table | None = None,
    ) -> None:
        self._connection = connection
        self._queries = list(queries)
        self._on_demand_feature_views = on_demand_feature_views or []
        self._full_feature_names = full_feature_names
        self._metadata = metadata
        self._entity_rows = entity_rows

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        # a relation's result is converted to Arrow by DuckDB's threads as it comes; execute() converts it after
        if self._entity_rows is None:
            return self._connection.sql(self._queries[0]).to_arrow_table()
        count = self._entity_rows.num_rows
        # each view's answer is put in entity order on another thread while DuckDB runs the next view's query
        with ThreadPoolExecutor(max_workers=1) as gatherer:
            ordered = [
                gatherer.submit(in_entity_order, self._connection.sql(query).to_arrow_table(), count)
                for query in self._queries
            ]
            return beside_entity_rows(self._entity_rows, [answer.result() for answer in ordered])

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def to_sql(self) -> str:
        """The DuckDB queries this job runs, as statements separated by ``;`` (for a point-in-time join, one per
        view: the entity rows' numbers and their features)."""
        return ";\n".join(self._queries)

    @property
    def queries(self) -> tuple[str, ...]:
        """The DuckDB queries this job runs (see :meth:`to_sql`)."""
        return tuple(self._queries)

    @property
    def entity_rows(self) -> pa.Table | None:
        """The entity rows of a point-in-time join (with their :data:`ROW_ORDER_COLUMN`), else ``None``."""
        return self._entity_rows

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._on_demand_feature_views

    @property
    def metadata(self) -> RetrievalMetadata | None:
        return self._metadata

    def persist(self, storage: SavedDatasetStorage, allow_overwrite: bool = False, timeout: int | None = None) -> None:
        """Write the result as a Parquet saved dataset.

        Raises:
            FeaturesError: the storage is not a file, or the file exists and overwriting was not allowed.
        """
        if not isinstance(storage, SavedDatasetFileStorage):
            raise FeaturesError(f"saved datasets of this store are Parquet files; got {type(storage).__name__}")
        path = Path(storage.file_options.uri)
        if path.exists() and not allow_overwrite:
            raise FeaturesError(f"saved dataset {path} exists; pass allow_overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.to_arrow(), path)


def in_entity_order(answer: pa.Table, count: int) -> pa.Table:
    """A view's features in the order of ``count`` entity rows, null where it has none.

    Args:
        answer: at most one row per entity row, in any order: its :data:`ROW_ORDER_COLUMN` (0..count-1) then the
            view's feature columns.
    """
    return answer.drop_columns([ROW_ORDER_COLUMN]).take(_positions(answer, count))


def beside_entity_rows(entity_rows: pa.Table, features: Sequence[pa.Table]) -> pa.Table:
    """The entity rows (less their :data:`ROW_ORDER_COLUMN`) followed by each view's features, in their order."""
    entities = entity_rows.drop_columns([ROW_ORDER_COLUMN])
    columns, names = list(entities.columns), list(entities.column_names)
    for table in features:
        columns += table.columns
        names += table.column_names
    return pa.Table.from_arrays(columns, names=names)


def _positions(answer: pa.Table, count: int) -> pa.Array:
    """For each of ``count`` entity rows, the position of its row in ``answer`` (null: it has none)."""
    numbers = answer.column(ROW_ORDER_COLUMN).to_numpy()
    positions = np.full(count, -1, dtype=np.int64)
    positions[numbers] = np.arange(len(numbers))
    missing = positions < 0
    if len(numbers) + int(missing.sum()) != count:
        raise FeaturesError(f"the point-in-time join answered an entity row twice ({len(numbers)} rows for {count})")
    return pa.array(positions, mask=missing if missing.any() else None)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _source_columns(data_source: DataSource, names: list[str]) -> dict[str, str]:
    """Source column for each Feast name, undoing the source's ``field_mapping``."""
    to_source = {feast_name: column for column, feast_name in data_source.field_mapping.items()}
    return {to_source.get(name, name): name for name in names}


def _entity_rows(entity_df: pd.DataFrame | str, event_timestamp_column: str | None = None) -> tuple[pa.Table, str]:
    """The entity frame as Arrow with a UTC event time (in microseconds) and a row-order column."""
    if not isinstance(entity_df, pd.DataFrame):
        raise FeaturesError("entity_df must be a pandas DataFrame with the entity keys and an event_timestamp column")
    column = event_timestamp_column or infer_event_timestamp_from_entity_df(dict(entity_df.dtypes.items()))
    times = entity_df[column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        try:
            times = pd.to_datetime(times, utc=True)
        except (ValueError, TypeError) as error:
            raise FeaturesError(f"entity_df column {column!r} must hold timestamps: {error}") from None
    elif times.dt.tz is None:
        times = times.dt.tz_localize("UTC")
    else:
        times = times.dt.tz_convert("UTC")
    if times.isna().any():
        raise FeaturesError(f"entity_df column {column!r} has missing timestamps; every row needs one")
    names = list(entity_df.columns)
    if ROW_ORDER_COLUMN in names:
        raise FeaturesError(f"entity_df has a column named {ROW_ORDER_COLUMN!r}, which the store uses; rename it")
    table = pa.Table.from_pandas(entity_df, columns=[name for name in names if name != column], preserve_index=False)
    table = table.add_column(names.index(column), column, _utc_microseconds(times))
    return table.append_column(ROW_ORDER_COLUMN, pa.array(np.arange(len(table), dtype=np.int64))), column


def _utc_microseconds(times: pd.Series) -> pa.Array:
    """UTC timestamps at DuckDB's precision: nanoseconds would be converted again on every scan of the rows."""
    return pa.array(times).cast(pa.timestamp("us", tz="UTC"), safe=False)


def _key_kind(kind: pa.DataType) -> str:
    """What a key's values are, for comparing an entity column with a table's: integers of any width, text
    (dictionary-encoded or not)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_integer(kind):
        return "integers"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    return str(kind)


def _check_key_types(view: str, table: Table, join_keys: dict[str, str], entities: pa.Schema) -> None:
    """Refuse an entity column whose values cannot equal the view's keys (DuckDB would cast one side: ``"5"``
    would find 5, and text such as ``"c1"`` would fail the query with a conversion error)."""
    columns = table.schema().as_arrow()
    for column, entity_column in join_keys.items():
        if entity_column not in entities.names or pa.types.is_null(entities.field(entity_column).type):
            continue  # a missing column is refused later by name; an all-null one matches nothing
        held, wanted = _key_kind(entities.field(entity_column).type), _key_kind(columns.field(column).type)
        if held != wanted:
            raise FeaturesError(
                f"entity_df column {entity_column!r} holds {held} but the key {column!r} of {view} holds {wanted}; "
                "convert the column"
            )


def _view_read(
    feature_view: FeatureView, feature_refs: list[str], full_feature_names: bool, entities: pa.Schema
) -> ViewRead:
    source = iceberg_source(feature_view.batch_source)
    table = load_source_table(source)
    projection = feature_view.projection
    wanted = [ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(f"{projection.name_to_use()}:")]
    prefix = projection.name_alias or feature_view.name
    outputs = [f"{prefix}__{name}" if full_feature_names else name for name in wanted]
    join_key_map = projection.join_key_map or {column.name: column.name for column in feature_view.entity_columns}
    key_columns = _source_columns(source, list(join_key_map))
    feature_columns = _source_columns(source, wanted)
    join_keys = {column: join_key_map[name] for column, name in key_columns.items()}
    _check_key_types(feature_view.name, table, join_keys, entities)
    return ViewRead(
        scan=table_scan_sql(table),
        join_keys=join_keys,
        timestamp_column=source.timestamp_field,
        created_column=source.created_timestamp_column or None,
        features=dict(zip(feature_columns, outputs, strict=True)),
        ttl=feature_view.ttl or None,
    )


def count_entities_in_range(feature_view: FeatureView, start: datetime, end: datetime) -> int:
    """How many entities have a row in ``[start, end]``: the rows materializing that range writes online.

    Raises:
        FeaturesError: the view's source is not an Iceberg table of the lake.
    """
    source = iceberg_source(feature_view.batch_source)
    keys = _source_columns(source, [column.name for column in feature_view.entity_columns])
    sql = count_entities_sql(source_scan_sql(source), list(keys), source.timestamp_field, _utc(start), _utc(end))
    with lake_cursor(get_settings()) as cursor:
        row = cursor.execute(sql).fetchone()
    return int(row[0]) if row else 0


class LakeOfflineStore(OfflineStore):
    """Feast offline store over the lake's Iceberg tables, computed by DuckDB (see the module docstring)."""

    supports_filter_by_created_timestamp = True

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        filter_by_created_timestamp: bool = False,
    ) -> RetrievalJob:
        """Point-in-time correct feature values for every entity row (see :func:`point_in_time_sql`); with
        ``filter_by_created_timestamp``, only rows created at or before the entity row's time count.

        Raises:
            FeaturesError: the entity frame lacks a key or usable timestamps, has a column named as a requested
                feature, or a view's source is not an Iceberg table of the lake.
        """
        entities, event_column = _entity_rows(entity_df)
        views = [_view_read(view, feature_refs, full_feature_names, entities.schema) for view in feature_views]
        missing = sorted({key for view in views for key in view.join_keys.values()} - set(entities.column_names))
        if missing:
            raise FeaturesError(f"entity_df lacks the join key column(s) {', '.join(missing)}; add them")
        clashing = sorted({name for view in views for name in view.features.values()} & set(entities.column_names))
        if clashing:
            raise FeaturesError(
                f"entity_df column(s) {', '.join(clashing)} have the names of requested features; rename or drop them "
                "(or ask for full_feature_names)"
            )
        times = entities.column(event_column)
        earliest, latest = pa.compute.min(times).as_py(), pa.compute.max(times).as_py()
        connection = lake_cursor(get_settings())
        connection.register(ENTITY_TABLE, entities)
        requested = OnDemandFeatureView.get_requested_odfvs(feature_refs, project, registry)
        return LakeRetrievalJob(
            connection,
            point_in_time_sql(views, event_column, (earliest, latest), filter_by_created_timestamp),
            on_demand_feature_views=requested,
            full_feature_names=full_feature_names,
            metadata=RetrievalMetadata(
                features=feature_refs,
                keys=[name for name in entities.column_names if name not in (event_column, ROW_ORDER_COLUMN)],
                min_event_timestamp=earliest,
                max_event_timestamp=latest,
            ),
            entity_rows=entities,
        )

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        """The latest row per entity with an event time in ``[start_date, end_date]`` (materialization)."""
        columns = [*join_key_columns, *feature_name_columns, timestamp_field]
        if created_timestamp_column:
            columns.append(created_timestamp_column)
        sql = latest_rows_sql(
            source_scan_sql(data_source),
            join_key_columns,
            columns,
            timestamp_field,
            created_timestamp_column,
            _utc(start_date),
            _utc(end_date),
        )
        return LakeRetrievalJob(lake_cursor(get_settings()), [sql])

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        """Every row with an event time in ``[start_date, end_date]`` (materialization, training pulls)."""
        columns = [*join_key_columns, *feature_name_columns, timestamp_field]
        if created_timestamp_column:
            columns.append(created_timestamp_column)
        sql = rows_in_range_sql(
            source_scan_sql(data_source),
            columns,
            timestamp_field,
            _utc(start_date) if start_date else None,
            _utc(end_date) if end_date else None,
        )
        return LakeRetrievalJob(lake_cursor(get_settings()), [sql])

    @staticmethod
    def offline_write_batch(
        config: RepoConfig,
        feature_view: FeatureView,
        table: pa.Table,
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Append pushed rows to the view's Iceberg table (``store.push(..., to=PushMode.OFFLINE)``).

        Raises:
            FeaturesError: the rows do not fit the table's schema.
        """
        iceberg_table = load_source_table(iceberg_source(feature_view.batch_source))
        schema = iceberg_table.schema().as_arrow()
        missing = [name for name in schema.names if name not in table.column_names]
        if missing:
            raise FeaturesError(f"pushed rows for {feature_view.name} lack column(s) {', '.join(missing)}")
        try:
            with LakeTransaction(iceberg_table) as transaction:
                transaction.append(table.select(schema.names).cast(schema))
        except (pa.ArrowInvalid, ValueError) as error:
            raise FeaturesError(f"pushed rows for {feature_view.name} do not fit its table: {error}") from None
        if progress:
            progress(table.num_rows)
