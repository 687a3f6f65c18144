"""The offline store's readers: one DuckDB database per process with a cursor per read, catalogs built once."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from feast import FileSource
from feast.infra.data_sources.contrib.iceberg_catalog.iceberg_source import IcebergSource
from pyiceberg.catalog import Catalog

from lake.errors import FeaturesError
from lake.feast.environment import iceberg_source_options
from lake.feast.scans import iceberg_source, lake_cursor, load_source_table, source_scan_sql
from lake.feast.synthetic import SyntheticSpan, write_synthetic_feature_table
from lake.settings import Settings


def card_source(settings: Settings, table: str = "card_features") -> IcebergSource:
    return IcebergSource(
        name="cards",
        namespace="features",
        table=table,
        timestamp_field="feature_timestamp",
        **iceberg_source_options(settings),
    )


def test_cursors_read_iceberg_but_keep_their_registrations_apart(settings: Settings, catalog: Catalog) -> None:
    rows = write_synthetic_feature_table(catalog, "card_features", SyntheticSpan(rows=50, entities=5, days=2))
    first, second = lake_cursor(settings), lake_cursor(settings)
    first.register("entity_rows", pa.table({"card_id": ["card000001"]}))

    assert first.execute("SELECT count(*) FROM entity_rows").fetchone() == (1,)
    with pytest.raises(duckdb.CatalogException):
        second.execute("SELECT count(*) FROM entity_rows")
    assert second.execute(f"SELECT count(*) FROM {source_scan_sql(card_source(settings))}").fetchone() == (50,)
    assert second.execute("SELECT current_setting('asof_loop_join_threshold')").fetchone() == (0,)
    assert rows.num_rows == 50


def test_catalog_is_reused_and_reads_the_current_snapshot(settings: Settings, catalog: Catalog) -> None:
    write_synthetic_feature_table(catalog, "card_features", SyntheticSpan(rows=20, entities=5, days=2))
    source = card_source(settings)
    before = load_source_table(source)
    catalog.load_table("features.card_features").append(before.scan().to_arrow())

    after = load_source_table(source)
    assert after.catalog is before.catalog is load_source_table(card_source(settings)).catalog
    assert after.current_snapshot().snapshot_id != before.current_snapshot().snapshot_id
    with lake_cursor(settings) as cursor:
        assert cursor.execute(f"SELECT count(*) FROM {source_scan_sql(source)}").fetchone() == (40,)


def test_other_sources_and_missing_tables_are_refused_by_name(settings: Settings, catalog: Catalog) -> None:
    with pytest.raises(FeaturesError, match="IcebergSource only; got FileSource"):
        iceberg_source(FileSource(name="files", path="rows.parquet", timestamp_field="ts"))
    with pytest.raises(FeaturesError, match=r"features\.no_such_table"):
        source_scan_sql(card_source(settings, "no_such_table"))
