"""The feature repo end to end: plain ``feast`` CLI on the local profile (apply, materialize, serve over HTTP),
and the cluster profile (PostgreSQL registry, Redis online store), both serving ``fraud_model_v1``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureStore
from pyiceberg.catalog import Catalog

from lake.errors import FeaturesError
from lake.feast.environment import (
    FEATURE_REPO,
    LAKE_ONLINE_STORES,
    apply_feature_repo,
    export_feast_environment,
    open_feature_store,
)
from lake.feast.materialization import feature_freshness, materialize_incremental_views, materialize_views
from lake.settings import Settings, get_settings
from tests.feature_repo.conftest import applied_feature_repo, write_feature_tables

FEAST = str(Path(sys.executable).with_name("feast"))
STORED = ("tx_count_1h", "merchant_tx_count_30d", "customer_avg_amount_30d_cents")


def latest_values(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {
        name: table.sort_values("feature_timestamp").groupby(table.columns[0]).last() for name, table in tables.items()
    }


def entity_rows(tables: dict[str, pd.DataFrame], count: int) -> list[dict]:
    cards = latest_values(tables)["card_features"].index[:count]
    merchants = latest_values(tables)["merchant_features"].index
    customers = latest_values(tables)["customer_features"].index
    return [
        {
            "card_id": card,
            "merchant_id": merchants[i % len(merchants)],
            "customer_id": customers[i % len(customers)],
            "amount_cents": 1000 + i,
        }
        for i, card in enumerate(cards)
    ]


def check_online_service(store: FeatureStore, tables: dict[str, pd.DataFrame]) -> None:
    """fraud_model_v1 online for 1 and 100 entities: stored values are the latest rows, ratios are computed."""
    service = store.get_feature_service("fraud_model_v1")
    latest = latest_values(tables)
    for count in (1, 100):
        rows = entity_rows(tables, count)
        vectors = store.get_online_features(features=service, entity_rows=rows).to_dict()
        assert vectors["tx_count_1h"] == [latest["card_features"].loc[row["card_id"], "tx_count_1h"] for row in rows]
        card = latest["card_features"].loc[rows[0]["card_id"]]
        mean = card["amount_sum_7d_cents"] / card["tx_count_7d"] if card["tx_count_7d"] else None
        assert vectors["amount_to_card_avg_7d"][0] == (rows[0]["amount_cents"] / mean if mean else None)
        assert len(vectors["amount_to_customer_avg_30d"]) == count


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_for_server(url: str, server: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"feast serve exited with {server.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"feast serve did not answer {url} within {seconds} s")


@pytest.mark.slow
def test_plain_feast_cli_applies_materializes_and_serves_locally(settings: Settings, catalog: Catalog) -> None:
    tables = write_feature_tables(catalog)
    environment = {**os.environ, **export_feast_environment(settings)}
    end = max(table["feature_timestamp"].max() for table in tables.values()) + pd.Timedelta(seconds=1)
    start = end - pd.Timedelta(days=30)

    subprocess.run([FEAST, "apply"], cwd=FEATURE_REPO, env=environment, check=True, capture_output=True)
    subprocess.run(
        [FEAST, "materialize", start.isoformat(), end.isoformat()],
        cwd=FEATURE_REPO,
        env=environment,
        check=True,
        capture_output=True,
    )

    store = open_feature_store(settings)
    check_online_service(store, tables)
    assert set(feature_freshness(store)) == {"card_features", "merchant_features", "customer_features"}
    training = store.get_historical_features(
        entity_df=pd.DataFrame(entity_rows(tables, 5)).assign(event_timestamp=end),
        features=store.get_feature_service("fraud_model_v1"),
    ).to_df()
    assert len(training) == 5 and {*STORED, "amount_to_card_avg_7d"} <= set(training.columns)

    port = free_port()
    server = subprocess.Popen(
        [FEAST, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=FEATURE_REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_server(f"http://127.0.0.1:{port}/health", server)
        row = entity_rows(tables, 1)[0]
        answer = post_json(
            f"http://127.0.0.1:{port}/get-online-features",
            {"feature_service": "fraud_model_v1", "entities": {key: [value] for key, value in row.items()}},
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    names = answer["metadata"]["feature_names"]
    expected = tables["card_features"].sort_values("feature_timestamp").groupby("card_id").last()
    assert answer["results"][names.index("tx_count_1h")]["values"] == [expected.loc[row["card_id"], "tx_count_1h"]]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_cluster_profile_uses_postgres_registry_and_redis(
    cluster_settings: Settings, cluster_catalog: Catalog, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEFORGE_FEAST__REGISTRY", postgres_database)
    monkeypatch.setenv("LAKEFORGE_FEAST__PROJECT", f"test_{uuid.uuid4().hex[:10]}")
    settings = get_settings()
    assert (settings.feast.online_store, settings.feast.registry) == ("redis", postgres_database)
    store, tables, end = applied_feature_repo(settings, cluster_catalog)
    try:
        assert type(store.registry).__name__ == "SqlRegistry"
        assert store.config.online_store.type == LAKE_ONLINE_STORES["redis"]
        written = materialize_views(store, end - timedelta(days=30), end)
        assert {step.view: step.rows for step in written}["card_features"] == tables["card_features"][
            "card_id"
        ].nunique()
        check_online_service(store, tables)
        assert feature_freshness(store)["card_features"] == end
    finally:
        store.teardown()


def test_a_new_user_out_of_order_is_told_what_to_run_first(settings: Settings) -> None:
    with pytest.raises(FeaturesError, match=r"no online feature view is registered.*lakeforge features apply"):
        materialize_incremental_views(open_feature_store(settings), datetime.now(UTC))
    with pytest.raises(FeaturesError, match=r"features\.card_features.*build them first \(`lakeforge transform build`"):
        apply_feature_repo(settings)
