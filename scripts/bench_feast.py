"""Feast on the lake: training-set retrieval (stock DuckDB store vs Lakeforge's), materialization and online reads
(Lakeforge's online stores vs Feast's stock ones: each materializes the same rows into empty tables, then both read
the rows Lakeforge's wrote; Lakeforge's Redis store writes with Feast's own code, so its materialization ratio shows
what running second costs).

Synthetic ``features.*`` tables are written straight into Iceberg in a temporary data home. Each training-set
retrieval runs in its own child process so wall time and peak RSS (``ru_maxrss``) of one store never mix with
the other's. Features are those of the feature views of ``fraud_model_v1`` (the request-time ratios are
computed identically by either store, so they are left out of the comparison).
"""

from __future__ import annotations

import contextlib
import gc
import http.client
import json
import multiprocessing
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

LAKE_STORE = "lake.feast.offline_store.LakeOfflineStore"
SIZES = {
    True: {"card_rows": 200_000, "entity_rows": [10_000], "cards": 20_000, "online_window_days": 90},
    False: {"card_rows": 10_000_000, "entity_rows": [100_000, 1_000_000], "cards": 200_000, "online_window_days": 1},
}
"""Feature rows, entity rows of the training sets, cards, and how many days the online stores are loaded with."""
WIDE_VIEW = "card_wide_features"
WIDE_SERVICE = "bench_50_features"
WIDE_FEATURES = 28
"""Doubles of the wide view: with fraud_model_v1's 22 features (2 on-demand), 50 features per request."""
REDIS = {"type": "redis", "connection_string": "127.0.0.1:6379"}
LATENCY_CALLS = 500
"""Calls timed for each latency figure. Of 100, the p99 is the slowest call or next to it: one hiccup of a noisy
machine; of 500 it is the fifth slowest."""
LATENCY_ROUNDS = 5


def _build_store(
    home: Path, offline_store: str, online: dict[str, Any], project: str, registry: str = "registry.db"
) -> Any:
    """A FeatureStore over feature_repo/'s objects with the given offline and online stores, on the data home
    ``home`` (the process's, set by :func:`_measure`; spawned children inherit it)."""
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
            "peak_rss_mb": _peak_rss_mb(),
        }
    )


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Linux carries ``ru_maxrss`` over from the parent through fork and exec, so a
    child of the benchmark (which holds the card frame) would report at least the parent's size; ``VmHWM`` is the
    peak of the child's own address space."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(home: Path, offline_store: str, entity_path: Path) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_retrieve, args=(str(home), offline_store, str(entity_path), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def _latencies(**calls: Any) -> dict[str, dict[str, float]]:
    """p50/p99 of each call over :data:`LATENCY_CALLS`, the calls taking turns in :data:`LATENCY_ROUNDS` runs so
    that a slower spell of the machine falls on all alike. Each run starts with untimed calls: Feast keeps one
    process-wide cache of resolved requests, emptied when a call comes from another store's registry."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(LATENCY_ROUNDS):
        for name, call in calls.items():
            for _ in range(5):
                call()
            for _ in range(LATENCY_CALLS // LATENCY_ROUNDS):
                started = time.perf_counter()
                call()
                samples[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            "calls": len(times),
            "p50_ms": round(statistics.median(times), 3),
            "p99_ms": round(float(np.percentile(times, 99)), 3),
        }
        for name, times in samples.items()
    }


def _write_wide_table(catalog: Any, cards: pa.Table) -> None:
    """``features.card_wide_features``: each card's latest card-feature time and :data:`WIDE_FEATURES` doubles."""
    latest = cards.group_by("card_id").aggregate([("feature_timestamp", "max")])
    latest = latest.rename_columns(["card_id", "feature_timestamp"])
    rng = np.random.default_rng(13)
    for position in range(WIDE_FEATURES):
        latest = latest.append_column(f"wide_{position:02d}", pa.array(rng.random(latest.num_rows)))
    catalog.create_table(f"features.{WIDE_VIEW}", schema=latest.schema).append(latest)


def _wide_objects(repo: Any) -> list[Any]:
    """The wide view and ``bench_50_features``: fraud_model_v1 (on-demand ratios included) plus the wide view."""
    from feast import FeatureService, FeatureView, Field
    from feast.infra.data_sources.contrib.iceberg_catalog.iceberg_source import IcebergSource
    from feast.types import Float64

    from lake.feast.environment import iceberg_source_options

    source = IcebergSource(
        name=f"{WIDE_VIEW}_source",
        namespace="features",
        table=WIDE_VIEW,
        timestamp_field="feature_timestamp",
        **iceberg_source_options(),
    )
    view = FeatureView(
        name=WIDE_VIEW,
        entities=[repo.get_entity("card")],
        ttl=timedelta(days=7),
        schema=[Field(name=f"wide_{position:02d}", dtype=Float64) for position in range(WIDE_FEATURES)],
        source=source,
    )
    fraud = [*repo.list_feature_views(), *repo.list_on_demand_feature_views()]
    return [source, view, FeatureService(name=WIDE_SERVICE, features=[*fraud, view])]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_latency(home: Path, config: dict[str, Any], entity_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p99 of POST /get-online-features on ``feast serve`` (one worker, never recycled; kept-alive connection)."""
    folder = home / f"serve_{config['project']}"
    folder.mkdir()
    (folder / "feature_store.yaml").write_text(json.dumps(config))  # JSON is YAML
    port = _free_port()
    feast = str(Path(sys.executable).with_name("feast"))
    # Feast's server restarts its worker after 1,000-1,050 requests (gunicorn's max_requests, against leaks);
    # these calls make 1,050, so a restart would drop the kept-alive connection mid-run and put a cold worker's
    # calls among the timed ones: recycling is off here
    command = [feast, "--chdir", str(folder), "serve", "--port", str(port), "--no-access-log"]
    command += ["--max-requests", "0", "--max-requests-jitter", "0"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        connection = _wait_for_server(port, server)

        def post(rows: list[dict[str, Any]]) -> None:
            entities = {key: [row[key] for row in rows] for key in rows[0]}
            body = json.dumps({"feature_service": WIDE_SERVICE, "entities": entities})
            connection.request("POST", "/get-online-features", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"feast serve answered {response.status}: {answer[:300]!r}")

        return _latencies(one_entity=lambda: post(entity_rows[:1]), hundred_entities=lambda: post(entity_rows))
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_server(port: int, server: subprocess.Popen[bytes], seconds: float = 300) -> http.client.HTTPConnection:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"feast serve exited with {server.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/health")
            connection.getresponse().read()
            return connection
        except OSError:
            connection.close()
            time.sleep(0.5)
    raise RuntimeError(f"feast serve did not answer on port {port} within {seconds} s")


def _online_read(store: Any, service: Any, entity_rows: list[dict[str, Any]]) -> Any:
    return lambda: store.get_online_features(features=service, entity_rows=entity_rows)


def _materialized(
    home: Path, online: dict[str, Any], objects: list[Any], start: datetime, end: datetime
) -> tuple[Any, int, float]:
    """A store of a project of its own on the online store section ``online``, with ``objects`` applied and
    ``[start, end]`` of every view materialized into its empty tables: the store, rows written and seconds."""
    from lake.feast.materialization import materialize_views

    project = f"bench_{online['type'].rsplit('.', 1)[-1].lower()}_{uuid.uuid4().hex[:6]}"
    store = _build_store(home, LAKE_STORE, online, project, registry=f"{project}.db")
    store.apply(objects)
    written = materialize_views(store, start, end)
    return store, sum(step.rows for step in written), sum(step.seconds for step in written)


def _online(home: Path, cards: pd.DataFrame, online: dict[str, Any], window: timedelta) -> dict[str, Any]:
    """Materialize ``window`` of every view through Lakeforge's store of the kind of ``online`` (a stock store's
    section) and, into a project of its own, through the stock store; then time bench_50_features in-process
    through Lakeforge's store and through the stock store on the rows Lakeforge's wrote, and over HTTP."""
    from lake.feast.environment import LAKE_ONLINE_STORES

    repo = _build_store(home, LAKE_STORE, online, "lakeforge")
    objects = [
        *repo.list_entities(),
        *repo.list_data_sources(),
        *repo.list_feature_views(),
        *repo.list_on_demand_feature_views(),
        *_wide_objects(repo),
    ]
    lake_online = {**online, "type": LAKE_ONLINE_STORES[online["type"]]}
    end = cards["feature_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    store, rows, seconds = _materialized(home, lake_online, objects, end - window, end)
    # a SQLite file of its own: tearing a SQLite store down deletes its file
    stock_section = {**online, "path": f"{online['path']}.stock"} if "path" in online else online
    stock_writer, _, stock_seconds = _materialized(home, stock_section, objects, end - window, end)
    stock_writer.teardown()
    stock = _build_store(home, LAKE_STORE, online, store.project, registry=f"{store.project}.db")
    service = store.get_feature_service(WIDE_SERVICE)
    recent = cards[cards["feature_timestamp"] >= end - window]["card_id"].unique()[:100]
    entity_rows = [
        {"card_id": card, "merchant_id": "merc000001", "customer_id": "cust000001", "amount_cents": 1000}
        for card in recent
    ]
    served = {name: getattr(store.config, name) for name in ("project", "provider", "entity_key_serialization_version")}
    served["registry"] = store.config.registry.model_dump(mode="json", exclude_none=True)
    served["online_store"] = lake_online
    gc.freeze()  # as a scoring replica does after start-up (serving.scoring.scorer): no full GC pass mid-request
    in_process = {
        count_name: _latencies(
            lakeforge=_online_read(store, service, entity_rows[:count]),
            stock=_online_read(stock, service, entity_rows[:count]),
        )
        for count_name, count in (("one_entity", 1), ("hundred_entities", len(entity_rows)))
    }
    hundred = in_process["hundred_entities"]
    result = {
        "materialized_rows": rows,
        "materialize_rows_per_s": round(rows / seconds),
        "materialize_rows_per_s_stock_store": round(rows / stock_seconds),
        "materialize_seconds_lakeforge_over_stock": round(seconds / stock_seconds, 2),
        "features_per_request": sum(len(projection.features) for projection in service.feature_view_projections),
        "in_process": {name: figures["lakeforge"] for name, figures in in_process.items()},
        "in_process_stock_store": {name: figures["stock"] for name, figures in in_process.items()},
        "hundred_entities_p50_lakeforge_over_stock": round(
            hundred["lakeforge"]["p50_ms"] / hundred["stock"]["p50_ms"], 2
        ),
        "feast_serve_http": _http_latency(home, served, entity_rows),
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
    from lake.catalog import load_catalog
    from lake.feast.synthetic import SyntheticSpan, write_synthetic_feature_table
    from lake.settings import data_home

    with tempfile.TemporaryDirectory(prefix="bench_feast_") as folder, data_home(Path(folder)) as settings:
        home = Path(folder)
        catalog = load_catalog(settings)
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
        _write_wide_table(catalog, cards)
        window = timedelta(days=sizes["online_window_days"])
        for online in ({"type": "sqlite", "path": str(home / "bench.db")}, REDIS):
            results[f"online_{online['type']}"] = _online(home, card_frame, online, window)
    return results
