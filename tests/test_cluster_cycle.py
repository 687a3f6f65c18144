"""The cluster profile end to end: PostgreSQL catalog and Feast registry, Redis online store, S3 warehouse.

One operated cycle (``run_cycle``: ingest -> dbt build -> Feast apply and materialize -> drift -> train and
promote) runs with every setting of the cluster profile against real servers: the PostgreSQL and Redis of this
machine and an S3 server (moto) on 127.0.0.1. The assertions look where each piece must be, and where it must
not be: nothing lands in the local data home's warehouse.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis

from lake.catalog import load_catalog
from lake.feast.environment import LAKE_ONLINE_STORES, open_feature_store
from lake.generate import write_landing_files
from lake.settings import Settings, get_settings
from models.cycle import run_cycle
from models.registry import get_model_version, load_booster, read_artifact
from models.train import RUNS_FOLDER
from models.train_worker import CHECKPOINT_MODEL
from tests.conftest import S3_SECRET_ACCESS_KEY, s3_client

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.ray, pytest.mark.slow]

CARD_FEATURES = ["tx_count_24h", "amount_sum_7d_cents", "distance_from_home_km"]


def _object_keys(settings: Settings) -> set[str]:
    """Every ``s3://bucket/key`` in the warehouse's bucket, listed by boto3."""
    bucket = str(settings.catalog.warehouse).removeprefix("s3://").split("/", 1)[0]
    pages = s3_client(str(settings.catalog.s3_endpoint)).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {f"s3://{bucket}/{item['Key']}" for page in pages for item in page.get("Contents", [])}


def _query(settings: Settings, sql: str, *params: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the PostgreSQL database of the catalog and the Feast registry."""
    dsn = str(settings.catalog.uri).replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


TABLES_SQL = (
    "SELECT table_namespace || '.' || table_name, metadata_location FROM iceberg_tables WHERE catalog_name = %s"
)
"""pyiceberg's SqlCatalog rows of one catalog: table name -> current metadata file."""
VIEWS_SQL = "SELECT feature_view_name FROM feature_views WHERE project_id = %s"
"""Feast's SQL registry rows of one project's feature views."""
SOURCES_SQL = "SELECT data_source_proto FROM data_sources WHERE project_id = %s"
"""Feast's SQL registry rows of one project's data sources (serialized protos)."""


def test_cycle_runs_on_postgres_redis_and_s3(
    ray_session: None, cluster_s3_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 15 days of data hold chargebacks reported up to day 15: a 3-day maturity leaves labels in the test period
    monkeypatch.setenv("LAKEFORGE_PIPELINE__LABEL_MATURITY_DAYS", "3")
    settings = get_settings()
    landing = tmp_path / "landing"
    write_landing_files(landing, rows=5_000, days=15, seed=17, start_date=date(2026, 1, 1))

    report = run_cycle(settings, landing=landing, workers=2)

    assert report.ok, report.failed
    assert {record.step: record.status for record in report.records} == {
        "ingest": "ran",
        "transform": "ran",
        "features": "ran",
        "drift": "skipped",
        "train": "ran",
    }
    assert report.as_of is not None and report.as_of.date() == date(2026, 1, 15)
    objects = _object_keys(settings)
    _check_tables_in_bucket(settings, objects)
    _check_feast_on_postgres_and_redis(settings)
    champion = _check_champion_in_bucket(settings, objects)

    again = run_cycle(settings, landing=landing, workers=2)  # nothing new: every step has a reason to skip
    assert again.ok and {record.status for record in again.records} == {"skipped"}
    assert "only 0 predictions of v1" in again.step("drift").detail  # its reference profile was read from S3
    assert f"champion v{champion} is 0.0 days old" in again.step("train").detail


def _check_tables_in_bucket(settings: Settings, objects: set[str]) -> None:
    """Catalog rows in PostgreSQL point at metadata in the bucket, every live data file is there, none is local."""
    catalog = load_catalog(settings)
    tables = dict(_query(settings, TABLES_SQL, settings.catalog.name))
    for name in ("raw.transactions", "curated.fct_transactions", "features.card_features", "ml.model_versions"):
        assert tables[name] in objects, f"{name}'s metadata file is not in the bucket"
        data_files = catalog.load_table(name).inspect.files().column("file_path").to_pylist()
        assert data_files and set(data_files) <= objects, f"{name}'s data files are not all in the bucket"
    assert not (settings.home / "warehouse").exists()


def _check_feast_on_postgres_and_redis(settings: Settings) -> None:
    """The registry (views, sources without S3 keys) is in PostgreSQL; the newest card row comes back from Redis."""
    views = _query(settings, VIEWS_SQL, settings.feast.project)
    assert {"card_features", "merchant_features", "customer_features"} <= {name for (name,) in views}
    sources = _query(settings, SOURCES_SQL, settings.feast.project)
    assert sources and not any(S3_SECRET_ACCESS_KEY.encode() in bytes(proto) for (proto,) in sources)
    card_rows = load_catalog(settings).load_table("features.card_features").scan().to_arrow()
    latest = card_rows.sort_by([("feature_timestamp", "descending")]).slice(0, 1).to_pylist()[0]
    store = open_feature_store(settings)
    assert store.config.online_store.type == LAKE_ONLINE_STORES["redis"]
    online = store.get_online_features(
        features=[f"card_features:{name}" for name in CARD_FEATURES], entity_rows=[{"card_id": latest["card_id"]}]
    ).to_dict()
    assert {name: online[name][0] for name in CARD_FEATURES} == {name: latest[name] for name in CARD_FEATURES}
    project_keys = redis.Redis(host="127.0.0.1", port=6379).scan_iter(match=b"*" + settings.feast.project.encode())
    assert next(project_keys, None) is not None


def _check_champion_in_bucket(settings: Settings, objects: set[str]) -> int:
    """The champion's files and Ray Train's checkpoint are in the bucket, and the champion loads from there."""
    champion = get_model_version(settings=settings)
    assert champion.aliases == ["champion"] and champion.lineage["cutoff"].startswith("2026-01-15")
    assert champion.artifact_uri.startswith(f"{settings.catalog.warehouse}/")
    assert {champion.artifact("model.json"), champion.artifact("report.md")} <= objects
    checkpoints = f"{settings.catalog.warehouse}/{RUNS_FOLDER}/"
    assert any(key.startswith(checkpoints) and key.endswith(f"/{CHECKPOINT_MODEL}") for key in objects)
    assert read_artifact(champion, "report.md", settings).startswith(b"#")
    booster = load_booster(champion, settings)
    assert booster.num_features() == len(champion.features) and booster.feature_names == champion.features
    return champion.version
