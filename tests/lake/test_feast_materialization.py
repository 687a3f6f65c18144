"""Gap-proof incremental materialization through the lake offline store, and freshness bookkeeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyiceberg.catalog import Catalog

from lake.errors import FeaturesError
from lake.feast.materialization import feature_freshness, materialize_incremental_views
from lake.settings import Settings
from tests.lake.test_feast_offline_store import LAKE_STORE, feature_objects, open_store, write_tables


@pytest.mark.slow
def test_incremental_materialization_of_old_data_writes_latest_rows_and_remembers(
    settings: Settings, catalog: Catalog
) -> None:
    cards = write_tables(catalog)["card_features"]
    store = open_store(settings, LAKE_STORE, feature_objects(settings))
    end = cards["feature_timestamp"].max().to_pydatetime() - timedelta(days=2)

    first = {step.view: step for step in materialize_incremental_views(store, end, ["card_features"])}

    window = cards[(cards["feature_timestamp"] >= end - timedelta(hours=12)) & (cards["feature_timestamp"] <= end)]
    latest = window.sort_values("feature_timestamp").groupby("card_id").last()
    assert first["card_features"].rows == len(latest) > 0, "an end date older than now - TTL still writes rows"
    online = store.get_online_features(
        features=["card_features:tx_count_1h"], entity_rows=[{"card_id": card} for card in latest.index]
    ).to_dict()
    assert online["tx_count_1h"] == list(latest["tx_count_1h"])
    assert feature_freshness(store)["card_features"] == end

    again = materialize_incremental_views(store, end, ["card_features"])
    assert (again[0].rows, again[0].start) == (0, end), "nothing new, said so"
    with pytest.raises(FeaturesError, match="materialized up to"):
        materialize_incremental_views(store, end - timedelta(hours=1), ["card_features"])

    later = end + timedelta(days=1)
    step = materialize_incremental_views(store, later, ["card_features"])[0]
    assert (step.start, step.end) == (end, later) and step.rows > 0, "continues exactly where the last run ended"
    with pytest.raises(FeaturesError, match="unknown feature view"):
        materialize_incremental_views(store, later, ["no_such_view"])
