"""Lakeforge's online stores answer exactly as Feast's stock SQLite and Redis stores do, on the same stored rows."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from feast import FeatureStore
from pyiceberg.catalog import Catalog

from lake.feast.environment import (
    FEATURE_REPO,
    LAKE_ONLINE_STORES,
    ONLINE_STORE_VARIABLE,
    online_store_config,
)
from lake.feast.materialization import materialize_views
from lake.settings import Settings, get_settings
from tests.feature_repo.conftest import applied_feature_repo
from tests.feature_repo.test_feature_repo import entity_rows


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_lake_online_stores_answer_as_the_stock_stores(
    kind: str, settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEFORGE_FEAST__ONLINE_STORE", kind)
    monkeypatch.setenv("LAKEFORGE_FEAST__PROJECT", f"online_{uuid.uuid4().hex[:10]}")
    settings = get_settings()
    lake, tables, end = applied_feature_repo(settings, catalog)
    assert lake.config.online_store.type == LAKE_ONLINE_STORES[kind]
    try:
        materialize_views(lake, end - timedelta(days=30), end)
        monkeypatch.setenv(ONLINE_STORE_VARIABLE, json.dumps({**online_store_config(settings), "type": kind}))
        stock = FeatureStore(repo_path=str(FEATURE_REPO))
        service = lake.get_feature_service("fraud_model_v1")
        rows = entity_rows(tables, 100)
        rows[1] = {**rows[1], "card_id": "no_such_card", "customer_id": "no_such_customer"}
        rows[2] = dict(rows[0])
        requests = [
            (service, False),
            (service, True),
            (["card_features:tx_count_1h", "transaction_risk:amount_to_customer_avg_30d"], False),
            (["merchant_features:merchant_tx_count_30d"], True),
        ]
        for features, full_names in requests:
            for count in (1, len(rows)):
                asked = {"features": features, "entity_rows": rows[:count], "full_feature_names": full_names}
                answer = lake.get_online_features(**asked)
                assert answer.proto == stock.get_online_features(**asked).proto, (str(features)[:80], full_names, count)
        ratios = lake.get_online_features(features=service, entity_rows=rows).to_dict()["amount_to_card_avg_7d"]
        assert ratios[1] is None and ratios[0] == ratios[2] is not None, "computed, None without history"
    finally:
        lake.teardown()


@pytest.mark.slow
def test_lake_sqlite_store_writes_the_stock_stores_rows(
    settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Materializing a range, then a longer one that updates many entities, leaves the same rows in either
    store's tables, byte for byte (key, feature, value, text, times)."""
    monkeypatch.setenv("LAKEFORGE_FEAST__ONLINE_STORE", "sqlite")
    monkeypatch.setenv("LAKEFORGE_FEAST__PROJECT", f"writes_{uuid.uuid4().hex[:10]}")
    settings = get_settings()
    lake, _, end = applied_feature_repo(settings, catalog)
    stock_path = tmp_path / "stock_online.db"
    monkeypatch.setenv(
        ONLINE_STORE_VARIABLE, json.dumps({**online_store_config(settings), "type": "sqlite", "path": str(stock_path)})
    )
    stock = FeatureStore(repo_path=str(FEATURE_REPO))
    stock.apply([*stock.list_entities(), *stock.list_feature_views()])
    views = [view.name for view in lake.list_feature_views()]
    for store in (lake, stock):
        materialize_views(store, end - timedelta(days=30), end - timedelta(days=10))
        materialize_views(store, end - timedelta(days=30), end)

    def stored(path: Path, view: str) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            return connection.execute(
                "SELECT entity_key, feature_name, value, value_text, event_ts, created_ts "
                f'FROM "{lake.project}_{view}" ORDER BY entity_key, feature_name'
            ).fetchall()

    try:
        for view in views:
            rows = stored(settings.feast.online_path, view)
            assert rows, view
            assert rows == stored(stock_path, view), view
    finally:
        lake.teardown()
