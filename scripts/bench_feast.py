"""Feast on the lake: training-set retrieval (stock DuckDB store vs Lakeforge's), materialization, online reads.

Synthetic ``features.*`` tables are written straight into Iceberg in a temporary data home. Each training-set
retrieval runs in its own child process so wall time and peak RSS (``ru_maxrss``) of one store never mix with
the other's. Features are those of the feature views of ``fraud_model_v1`` (the request-time ratios are
computed identically by either store, so they are left out of the comparison).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

LAKE_STORE = "lake.feast.offline_store.LakeOfflineStore"
SIZES = {
    True: {"card_rows": 200_000, "entity_rows": [10_000], "cards": 20_000},
    False: {"card_rows": 10_000_000, "entity_rows": [100_000, 1_000_000], "cards": 200_000},
}


def _build_store(
    home: Path, offline_store: str, online: dict[str, Any], project: str, registry: str = "registry.db"
) -> Any:
    """A FeatureStore over feature_repo/'s objects with the given offline and online stores."""
    os.environ["LAKEFORGE_HOME"] = str(home)
    from feast import FeatureStore, RepoConfig

    from lake.feast.environment import FEATURE_REPO, apply_feature_repo, export_feast_environment
    from lake.settings import get_settings

    settings = get_settings()
    export_feast_environment(settings)
    if not (home / "feast" / "applied").exists():
        apply_feature_repo(settings, FEATURE_REPO)
        (home / "feast" / "applied").touch()
    config = RepoConfig(
        project=project,
        provider="local",
        registry={"registry_type": "sql", "path": f"sqlite:///{home / 'feast' / registry}"},
        online_store=online,
        offline_store={"type": offline_store},
        entity_key_serialization_version=3,
        repo_path=str(FEATURE_REPO),
    )
    return FeatureStore(config=config)


def _entity_frame(cards: pd.DataFrame, count: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    picks = cards.iloc[rng.integers(0, len(cards), count)]
    return pd.DataFrame(
        {
            "card_id": picks["card_id"].to_numpy(),
            "merchant_id": [f"merc{n:06d}" for n in rng.integers(1, 2_000, count)],
            "customer_id": [f"cust{n:06d}" for n in rng.integers(1, 20_000, count)],
            "event_timestamp": picks["feature_timestamp"].to_numpy() + pd.Timedelta(minutes=5),
        }
    )


def _retrieve(home: str, offline_store: str, entity_path: str, queue: Any) -> None:
    """Child process: one training-set retrieval; reports seconds, rows and peak RSS."""
    sys.stdout = sys.stderr
    store = _build_store(Path(home), offline_store, {"type": "sqlite", "path": f"{home}/feast/online.db"}, "lakeforge")
    entities = pd.read_parquet(entity_path)
    service = store.get_feature_service("fraud_model_v1")
    features = [
        f"{projection.name}:{feature.name}"
        for projection in service.feature_view_projections
        if projection.name != "transaction_risk"
        for feature in projection.features
    ]
    started = time.perf_counter()
    result = store.get_historical_features(entity_df=entities, features=features).to_arrow()
    seconds = time.perf_counter() - started
    queue.put(
        {
            "seconds": seconds,
            "rows": result.num_rows,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _in_child(home: Path, offline_store: str, entity_path: Path) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_retrieve, args=(str(home), offline_store, str(entity_path), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def _latency(call: Any, repeats: int) -> dict[str, float]:
    for _ in range(5):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(samples), 3), "p99_ms": round(float(np.percentile(samples, 99)), 3)}


def _online(home: Path, cards: pd.DataFrame, online: dict[str, Any], name: str) -> dict[str, Any]:
    from lake.feast.materialization import materialize_views

    repo = _build_store(home, LAKE_STORE, online, "lakeforge")
    project = f"bench_{name}_{uuid.uuid4().hex[:6]}"
    store = _build_store(home, LAKE_STORE, online, project, registry=f"{project}.db")
    store.apply(
        [
            *repo.list_entities(),
            *repo.list_data_sources(),
            *repo.list_feature_views(),
            *repo.list_on_demand_feature_views(),
            *repo.list_feature_services(),
        ]
    )
    end = cards["feature_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    started = time.perf_counter()
    written = materialize_views(store, end - timedelta(days=90), end)
    seconds = time.perf_counter() - started
    rows = sum(step.rows for step in written)
    service = store.get_feature_service("fraud_model_v1", allow_cache=False)
    entity_rows = [
        {"card_id": card, "merchant_id": "merc000001", "customer_id": "cust000001", "amount_cents": 1000}
        for card in cards["card_id"].unique()[:100]
    ]
    result = {
        "materialized_rows": rows,
        "materialize_rows_per_s": round(rows / seconds),
        "features_per_request": len([f for p in service.feature_view_projections for f in p.features]),
        "one_entity": _latency(lambda: store.get_online_features(features=service, entity_rows=entity_rows[:1]), 300),
        "hundred_entities": _latency(lambda: store.get_online_features(features=service, entity_rows=entity_rows), 100),
    }
    store.teardown()
    return result


def run(small: bool) -> dict[str, Any]:
    """Write the synthetic tables, then measure retrieval (both stores), materialization and online reads.

    Feast's own progress output goes to stderr so that stdout stays the harness's JSON.
    """
    with contextlib.redirect_stdout(sys.stderr):
        return _measure(SIZES[small])


def _measure(sizes: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_feast_") as folder:
        home = Path(folder)
        os.environ["LAKEFORGE_HOME"] = str(home)
        from lake.catalog import load_catalog
        from lake.feast.synthetic import SyntheticSpan, write_synthetic_feature_table
        from lake.settings import get_settings

        catalog = load_catalog(get_settings())
        started = time.perf_counter()
        cards = write_synthetic_feature_table(
            catalog, "card_features", SyntheticSpan(rows=sizes["card_rows"], entities=sizes["cards"], days=60)
        ).select(["card_id", "feature_timestamp"])
        for name, entities in (("merchant_features", 2_000), ("customer_features", 20_000)):
            write_synthetic_feature_table(
                catalog, name, SyntheticSpan(rows=sizes["card_rows"] // 10, entities=entities, days=60)
            )
        results: dict[str, Any] = {
            "feature_rows": {"card_features": sizes["card_rows"], "merchant_and_customer": sizes["card_rows"] // 10},
            "write_seconds": round(time.perf_counter() - started, 1),
        }
        card_frame = cards.to_pandas()
        for count in sizes["entity_rows"]:
            entity_path = home / f"entities_{count}.parquet"
            _entity_frame(card_frame, count).to_parquet(entity_path)
            stock = _in_child(home, "duckdb", entity_path)
            lake = _in_child(home, LAKE_STORE, entity_path)
            results[f"historical_{count}_entity_rows"] = {
                "stock_duckdb": stock,
                "lakeforge": lake,
                "speedup": round(stock["seconds"] / lake["seconds"], 1),
                "peak_rss_ratio": round(lake["peak_rss_mb"] / stock["peak_rss_mb"], 2),
            }
        results["online_sqlite"] = _online(
            home, card_frame, {"type": "sqlite", "path": str(home / "bench.db")}, "sqlite"
        )
        results["online_redis"] = _online(
            home, card_frame, {"type": "redis", "connection_string": "127.0.0.1:6379"}, "redis"
        )
    return results
