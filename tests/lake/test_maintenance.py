"""Table maintenance on real catalogs and files: compaction keeps the data, expiry keeps protected snapshots,
orphans go only past the safety age, a dry run changes nothing, write-audit-publish survives, and the CLI."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xgboost
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from lake.catalog import load_catalog
from lake.errors import CatalogError
from lake.maintenance import maintain_tables
from lake.maintenance.compaction import COMPACTION, SNAPSHOT_PROPERTY, compact_table
from lake.materialize import AUDIT_BRANCH, INPUTS_PROPERTY, publish_staged_snapshot, write_staged_snapshot
from lake.settings import MaintenanceSettings, Settings
from lake.tables import file_system_path, read_table
from models.registry import register_model_version
from tests.conftest import arrow_query, s3_client
from tests.test_cli import run_cli

TABLE = "ops.events"
APPENDS = 8
"""Small appends, each touching two days: 16 small files in 2 partitions."""
SCHEMA = Schema(
    NestedField(1, "event_id", LongType(), required=False),
    NestedField(2, "at", TimestamptzType(), required=False),
    NestedField(3, "kind", StringType(), required=False),
    NestedField(4, "value", DoubleType(), required=False),
)
KEEP_EVERYTHING = MaintenanceSettings()
"""Defaults: 7-day retention and a 1-hour safety age, so only compaction acts on a table written just now."""
EXPIRE_ALL = MaintenanceSettings(snapshot_retention_days=0)
"""Every snapshot but the protected ones is past retention."""


def _batch(start: int, rows: int = 6) -> pa.Table:
    ids = list(range(start, start + rows))
    at = [datetime(2026, 3, 1 + i % 2, 10, i % 60, tzinfo=UTC) for i in ids]
    return pa.table(
        {
            "event_id": pa.array(ids, pa.int64()),
            "at": pa.array(at, pa.timestamp("us", "UTC")),
            "kind": [f"k{i % 3}" for i in ids],
            "value": [i * 0.5 for i in ids],
        }
    )


def _fragmented_table(catalog: Catalog, appends: int = APPENDS) -> Table:
    """A day-partitioned table written by many small appends, as a streaming writer leaves it."""
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="at_day"))
    table = catalog.create_table(TABLE, schema=SCHEMA, partition_spec=spec)
    for number in range(appends):
        table.append(_batch(number * 6))
    return table


def _rows(catalog: Catalog, snapshot_id: int | None = None) -> pa.Table:
    return read_table(catalog, TABLE, snapshot_id=snapshot_id).sort_by("event_id")


def _partitions(table: Table) -> set[tuple[int, int]]:
    """(partition value, day of a row inside) for every row of every data file, days counted from 1970-01-01."""
    found = set()
    for task in table.scan().plan_files():
        rows = pq.read_table(file_system_path(task.file.file_path))
        found |= {(task.file.partition[0], (at.date() - date(1970, 1, 1)).days) for at in rows["at"].to_pylist()}
    return found


def _files_on_disk(table: Table) -> dict[str, int]:
    root = Path(file_system_path(table.location()))
    return {str(path): path.stat().st_size for path in root.rglob("*") if path.is_file()}


def _age(path: Path | str, hours: float) -> None:
    past = time.time() - hours * 3600
    os.utime(path, (past, past))


def test_compaction_keeps_the_rows_and_their_partitions_with_fewer_files(catalog: Catalog) -> None:
    table = _fragmented_table(catalog)
    rows_before, partitions_before = _rows(catalog), _partitions(table)
    assert len(table.inspect.data_files()) == 2 * APPENDS

    (result,) = maintain_tables(catalog, [TABLE], KEEP_EVERYTHING)

    table = catalog.load_table(TABLE)
    assert _rows(catalog).equals(rows_before)
    assert _partitions(table) == partitions_before
    assert all(partition == day for partition, day in partitions_before)
    assert len(table.inspect.data_files()) == 2
    assert result.data_files == (2 * APPENDS, 2)
    assert result.compacted_files == 2 * APPENDS
    assert result.compaction == f"merged {2 * APPENDS} small files into 2 (2 partitions)"
    assert table.current_snapshot().summary[SNAPSHOT_PROPERTY] == COMPACTION
    assert result.snapshots_expired == 0 and result.orphans_removed == 0  # all within retention and safety age


def test_rows_appended_by_a_concurrent_writer_during_compaction_are_kept(catalog: Catalog) -> None:
    compactor = _fragmented_table(catalog)  # loaded before the other writer commits: its plan is stale
    catalog.load_table(TABLE).append(_batch(500))
    rows_before = _rows(catalog)

    plan, written = compact_table(compactor, KEEP_EVERYTHING)

    assert _rows(catalog).equals(rows_before)
    assert plan.files == 2 * APPENDS + 2 and written == 2  # planned again on the fresh table, the new files too
    live = len(catalog.load_table(TABLE).inspect.data_files())
    on_disk = list((Path(file_system_path(compactor.location())) / "data").rglob("*.parquet"))
    assert live == 2 and len(on_disk) == 2 * APPENDS + 2 + live  # the conflicting attempt's files were deleted


def test_a_table_with_few_small_files_is_left_alone(catalog: Catalog) -> None:
    table = _fragmented_table(catalog, appends=2)
    head = table.current_snapshot().snapshot_id

    (result,) = maintain_tables(catalog, [TABLE], KEEP_EVERYTHING)

    assert catalog.load_table(TABLE).current_snapshot().snapshot_id == head
    assert result.compacted_files == 0
    assert result.compaction.startswith("not needed: no partition has 5+ small files")


def test_expiry_keeps_the_snapshot_a_dbt_model_was_last_built_from(catalog: Catalog) -> None:
    table = _fragmented_table(catalog, appends=3)
    read = table.metadata.snapshots[1].snapshot_id
    model = pa.table({"n": [1]})
    staged = write_staged_snapshot(
        catalog,
        "staging.model",
        *arrow_query(model),
        "table",
        properties={INPUTS_PROPERTY: json.dumps({TABLE: read})},
    )
    publish_staged_snapshot(catalog, "staging.model", staged.snapshot_id)

    (result,) = maintain_tables(catalog, [TABLE], EXPIRE_ALL)

    kept = {s.snapshot_id for s in catalog.load_table(TABLE).metadata.snapshots}
    assert kept == {read, table.current_snapshot().snapshot_id}
    assert result.snapshots_expired == 1


def test_expiry_removes_old_snapshots_and_their_files_but_a_protected_one_still_time_travels(catalog: Catalog) -> None:
    table = _fragmented_table(catalog)
    protected = table.metadata.snapshots[2].snapshot_id
    expired = table.metadata.snapshots[4].snapshot_id
    rows_protected, rows_now = _rows(catalog, protected), _rows(catalog)

    (result,) = maintain_tables(catalog, [TABLE], EXPIRE_ALL, protected={TABLE: {protected}})

    table = catalog.load_table(TABLE)
    assert {s.snapshot_id for s in table.metadata.snapshots} == {protected, table.current_snapshot().snapshot_id}
    assert result.snapshots_expired == APPENDS - 1  # every append's but the protected one (the last was the head)
    assert _rows(catalog, protected).equals(rows_protected)
    assert _rows(catalog).equals(rows_now)
    with pytest.raises(CatalogError, match=f"no snapshot {expired}"):
        read_table(catalog, TABLE, snapshot_id=expired)
    on_disk = _files_on_disk(table)
    assert result.stored_files[1] == len(on_disk) < result.stored_files[0]
    assert result.stored_bytes[1] == sum(on_disk.values())
    parquet = [path for path in on_disk if path.endswith(".parquet")]
    assert len(parquet) == 2 + 3 * 2  # the compacted files, and the files of the three appends the protected one saw


def test_an_orphan_goes_once_past_the_safety_age_and_referenced_files_stay(catalog: Catalog) -> None:
    table = _fragmented_table(catalog, appends=2)
    data_dir = Path(file_system_path(table.location())) / "data"
    old_orphan, young_orphan = data_dir / "stray-old.parquet", data_dir / "stray-young.parquet"
    for stray in (old_orphan, young_orphan):
        pq.write_table(_batch(1000), stray)
    _age(old_orphan, hours=2)
    referenced = [file_system_path(task.file.file_path) for task in table.scan().plan_files()]
    for path in referenced:
        _age(path, hours=2)  # as old as the orphan, yet still read by the table
    rows_before = _rows(catalog)

    (result,) = maintain_tables(catalog, [TABLE], KEEP_EVERYTHING)

    assert not old_orphan.exists()
    assert young_orphan.exists()
    assert all(Path(path).exists() for path in referenced)
    assert result.orphans_removed == 1
    assert _rows(catalog).equals(rows_before)


def test_a_dry_run_changes_nothing_but_reports_the_work(catalog: Catalog) -> None:
    table = _fragmented_table(catalog)
    stray = Path(file_system_path(table.location())) / "data" / "stray.parquet"
    pq.write_table(_batch(1000), stray)
    _age(stray, hours=2)
    files_before, location_before = _files_on_disk(table), table.metadata_location

    (result,) = maintain_tables(catalog, [TABLE], EXPIRE_ALL, dry_run=True)

    table = catalog.load_table(TABLE)
    assert table.metadata_location == location_before
    assert _files_on_disk(table) == files_before
    assert result.dry_run
    assert result.compacted_files == 2 * APPENDS and result.data_files == (2 * APPENDS, 2)
    assert result.snapshots_expired == APPENDS - 1  # all but the current head
    assert result.orphans_removed > 1  # the stray and the files only expired snapshots read
    assert result.compaction.startswith("would merge")


def test_write_audit_publish_survives_maintenance(catalog: Catalog) -> None:
    name = "staging.appended"
    for number in range(5):
        staged = write_staged_snapshot(catalog, name, *arrow_query(_batch(number * 6)), "append")
        publish_staged_snapshot(catalog, name, staged.snapshot_id)
    held = write_staged_snapshot(catalog, name, *arrow_query(_batch(100)), "append")

    (result,) = maintain_tables(catalog, [name], EXPIRE_ALL)

    assert f"'{AUDIT_BRANCH}' branch" in result.compaction
    assert catalog.load_table(name).metadata.refs[AUDIT_BRANCH].snapshot_id == held.snapshot_id
    publish_staged_snapshot(catalog, name, held.snapshot_id)
    (result,) = maintain_tables(catalog, [name], EXPIRE_ALL)
    assert result.data_files == (6, 1)
    rows = read_table(catalog, name)
    assert sorted(rows["event_id"].to_pylist()) == list(range(30)) + list(range(100, 106))


def test_unknown_table_is_named_before_anything_changes(catalog: Catalog) -> None:
    _fragmented_table(catalog)
    head = catalog.load_table(TABLE).current_snapshot().snapshot_id
    with pytest.raises(CatalogError, match=r"no table 'ops\.nope'"):
        maintain_tables(catalog, [TABLE, "ops.nope"], EXPIRE_ALL)
    assert catalog.load_table(TABLE).current_snapshot().snapshot_id == head


@pytest.mark.postgres
def test_maintenance_on_the_postgres_catalog(cluster_catalog: Catalog) -> None:
    table = _fragmented_table(cluster_catalog)
    protected = table.metadata.snapshots[0].snapshot_id
    rows_before = _rows(cluster_catalog)

    (result,) = maintain_tables(cluster_catalog, [TABLE], EXPIRE_ALL, protected={TABLE: {protected}})

    assert _rows(cluster_catalog).equals(rows_before)
    assert result.data_files == (2 * APPENDS, 2)
    assert len(cluster_catalog.load_table(TABLE).metadata.snapshots) == 2
    assert _rows(cluster_catalog, protected).num_rows == 6


def _register_model_on(settings: Settings, snapshot_id: int) -> None:
    features = np.arange(20, dtype=float).reshape(10, 2)
    booster = xgboost.train({"max_depth": 1}, xgboost.DMatrix(features, label=[0, 1] * 5), num_boost_round=1)
    lineage = {"snapshots": {TABLE: snapshot_id}}
    thresholds = {"review": 0.5, "decline": 0.9}
    register_model_version(booster, ["f0", "f1"], thresholds, lineage=lineage, settings=settings)


@pytest.mark.slow
def test_cli_keeps_registered_models_snapshots_and_prints_before_and_after(
    settings: Settings, catalog: Catalog
) -> None:
    table = _fragmented_table(catalog)
    pinned = table.metadata.snapshots[1].snapshot_id
    _register_model_on(settings, pinned)

    dry = run_cli("maintain", "--table", TABLE, "--retention-days", "0", "--dry-run", env_home=settings.home)
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "would merge 16 small files" in dry.stdout
    assert len(catalog.load_table(TABLE).metadata.snapshots) == APPENDS

    shown = run_cli("maintain", "--table", TABLE, "--retention-days", "0", env_home=settings.home)

    assert shown.returncode == 0, shown.stderr
    assert "Table maintenance" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if TABLE in line)
    assert "16 -> 2" in row and "merged 16 small files into 2" in row
    assert any(line.strip("│┃ ").startswith("total") for line in shown.stdout.splitlines())
    snapshots = {s.snapshot_id for s in catalog.load_table(TABLE).metadata.snapshots}
    assert pinned in snapshots and len(snapshots) == 2


@pytest.mark.postgres
@pytest.mark.redis
def test_maintenance_on_an_s3_warehouse(cluster_s3_settings: Settings, s3_endpoint: str) -> None:
    catalog = load_catalog(cluster_s3_settings)
    table = _fragmented_table(catalog)
    bucket, prefix = file_system_path(table.location()).split("/", 1)
    client = s3_client(s3_endpoint)
    client.put_object(Bucket=bucket, Key=f"{prefix}/data/stray.parquet", Body=b"not committed")
    rows_before = _rows(catalog)

    (result,) = maintain_tables(
        catalog, [TABLE], MaintenanceSettings(snapshot_retention_days=0, orphan_min_age_hours=0)
    )

    assert _rows(catalog).equals(rows_before)
    assert result.data_files == (2 * APPENDS, 2)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")["Contents"]
    keys = [item["Key"] for item in listed if not item["Key"].endswith("/")]  # not pyarrow's directory markers
    assert f"{prefix}/data/stray.parquet" not in keys
    assert result.stored_files[1] == len(keys) < result.stored_files[0]
    assert len([key for key in keys if key.endswith(".parquet")]) == 2
