"""Catalog in both profiles: namespaces, listing, history and time travel on real SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import TableProperties
from pyiceberg.types import LongType, NestedField

from lake.catalog import LakeTransaction, create_lake_table, ensure_namespaces, load_catalog
from lake.errors import CatalogError
from lake.pipeline import _runs_table
from lake.settings import NAMESPACES, Settings, load_settings
from lake.tables import list_table_stats, read_table, snapshot_history
from models.drift import DRIFT_TABLE, DriftReport, append_drift_rows
from models.registry import _tables as registry_tables
from serving.scoring.prediction_log import create_predictions_table
from serving.sql.audit import QueryLog

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.large_string())])


def _write_three_snapshots(catalog: Catalog) -> list[int]:
    table = catalog.create_table("staging.people", schema=SCHEMA)
    for start in (0, 10, 20):
        table.append(pa.table({"id": range(start, start + 10), "name": ["x"] * 10}, schema=SCHEMA))
        time.sleep(0.01)
    return [snapshot.snapshot_id for snapshot in table.metadata.snapshots]


def _check_catalog(catalog: Catalog) -> None:
    assert {ns[0] for ns in catalog.list_namespaces()} >= set(NAMESPACES)
    ensure_namespaces(catalog)
    snapshots = _write_three_snapshots(catalog)

    [stats] = list_table_stats(catalog)
    assert (stats.name, stats.rows, stats.files, stats.snapshots) == ("staging.people", 30, 3, 3)
    assert stats.size_bytes > 0

    history = snapshot_history(catalog, "staging.people")
    assert [entry.snapshot_id for entry in history] == snapshots
    assert [entry.summary["added-records"] for entry in history] == ["10", "10", "10"]

    assert read_table(catalog, "staging.people").num_rows == 30
    assert read_table(catalog, "staging.people", snapshot_id=snapshots[0]).num_rows == 10
    second_commit = history[1].committed_at
    assert read_table(catalog, "staging.people", as_of=second_commit).num_rows == 20
    with pytest.raises(CatalogError, match="no snapshot"):
        read_table(catalog, "staging.people", as_of=history[0].committed_at - timedelta(days=1))


def test_embedded_catalog_lives_under_the_data_home(settings: Settings, catalog: Catalog) -> None:
    assert (settings.home / "catalog.db").exists()
    _check_catalog(catalog)
    assert any((settings.home / "warehouse" / "staging").rglob("*.parquet"))


@pytest.mark.postgres
def test_cluster_catalog_on_postgres(cluster_settings: Settings, cluster_catalog: Catalog) -> None:
    assert cluster_settings.catalog.uri.startswith("postgresql")
    _check_catalog(cluster_catalog)
    reopened = load_catalog(cluster_settings)
    assert reopened.load_table("staging.people").current_snapshot() is not None


def test_unknown_table_and_snapshot_are_clear_errors(catalog: Catalog) -> None:
    snapshots = _write_three_snapshots(catalog)
    with pytest.raises(CatalogError, match=r"no table 'raw.nope'.*staging.people"):
        read_table(catalog, "raw.nope")
    with pytest.raises(CatalogError, match="needs its namespace"):
        read_table(catalog, "people")
    with pytest.raises(CatalogError, match="has no snapshot 1 "):
        read_table(catalog, "staging.people", snapshot_id=1)
    with pytest.raises(CatalogError, match="either"):
        read_table(catalog, "staging.people", snapshot_id=snapshots[0], as_of=datetime.now(UTC))
    with pytest.raises(CatalogError, match="no time zone"):
        read_table(catalog, "staging.people", as_of=datetime(2026, 1, 1))


def test_unreachable_catalog_database_names_the_setting(tmp_path) -> None:
    settings = load_settings(
        home=tmp_path, profile="cluster", catalog={"uri": "postgresql+psycopg2://postgres@127.0.0.1:1/none"}
    )
    with pytest.raises(CatalogError, match="LAKEFORGE_CATALOG__URI"):
        load_catalog(settings)


def test_the_tables_written_by_many_small_appends_merge_their_manifests(settings: Settings, catalog: Catalog) -> None:
    checked_at = datetime.now(UTC)
    report = DriftReport(False, "judged", 1, checked_at, 0, 0.2, feature_psi={"amount_cents": 0.1}, run_id="check-1")
    append_drift_rows(catalog, report, checked_at)
    tables = [
        _runs_table(catalog),
        create_predictions_table(catalog),
        QueryLog(catalog)._query_log_table(),
        *registry_tables(settings),
        catalog.load_table(DRIFT_TABLE),
    ]

    merging = {".".join(table.name()): table.properties.get(TableProperties.MANIFEST_MERGE_ENABLED) for table in tables}
    assert merging == dict.fromkeys(
        ["ops.pipeline_runs", "ml.predictions", "ops.query_log", "ml.model_versions", "ml.model_aliases", "ops.drift"],
        "true",
    )


def test_creating_a_table_that_exists_loads_it_and_writes_nothing(catalog: Catalog, settings: Settings) -> None:
    schema = Schema(NestedField(1, "id", LongType(), required=True))
    created = create_lake_table(catalog, "ops.heartbeats", schema)
    metadata_files = sorted((settings.home / "warehouse" / "ops" / "heartbeats" / "metadata").iterdir())

    again = create_lake_table(catalog, "ops.heartbeats", schema)

    assert again.metadata_location == created.metadata_location
    assert sorted((settings.home / "warehouse" / "ops" / "heartbeats" / "metadata").iterdir()) == metadata_files
    assert again.properties.get(TableProperties.MANIFEST_MERGE_ENABLED) == "true"


def test_a_lake_transaction_works_out_its_metadata_once_per_staged_change(catalog: Catalog) -> None:
    table = create_lake_table(catalog, "ops.heartbeats", Schema(NestedField(1, "id", LongType(), required=True)))

    with LakeTransaction(table) as transaction:
        first = transaction.table_metadata
        assert transaction.table_metadata is first  # pyiceberg's own deep-copies the whole metadata on every read
        transaction.set_properties(owner="ops")
        staged = transaction.table_metadata
        assert staged is not first
        assert staged.properties["owner"] == "ops"
        assert "owner" not in first.properties

    assert table.properties["owner"] == "ops"
    assert LakeTransaction(table).table_metadata.properties["owner"] == "ops"
