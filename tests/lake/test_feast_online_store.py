"""Lakeforge's online stores answer exactly as Feast's stock SQLite and Redis stores do, on the same stored rows."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

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
