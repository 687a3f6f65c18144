"""The lake offline store: point-in-time correctness against a brute-force reference, and equality with Feast's
stock DuckDB store, on small random Iceberg feature tables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, RepoConfig, ValueType
from feast.infra.data_sources.contrib.iceberg_catalog.iceberg_source import IcebergSource
from feast.types import Float64, Int64
from pyiceberg.catalog import Catalog

from lake.errors import FeaturesError
from lake.feast.environment import iceberg_source_options
from lake.feast.offline_store import LakeOfflineStore
from lake.feast.synthetic import TIMESTAMP, SyntheticSpan, entity_ids, synthetic_rows, write_synthetic_feature_table
from lake.settings import Settings

LAKE_STORE = "lake.feast.offline_store.LakeOfflineStore"
VIEWS = {
    # view: (entity, join key, ttl, features)
    "card_features": ("card", "card_id", timedelta(hours=12), ["tx_count_1h", "amount_to_avg_7d_ratio"]),
    "merchant_features": ("merchant", "merchant_id", timedelta(days=2), ["merchant_tx_count_30d"]),
    "customer_features": ("customer", "customer_id", timedelta(0), ["customer_avg_amount_30d_cents"]),
}
SPANS = {
    "card_features": SyntheticSpan(rows=400, entities=20, days=10, seed=1),
    "merchant_features": SyntheticSpan(rows=60, entities=10, days=10, seed=2),
    "customer_features": SyntheticSpan(rows=40, entities=10, days=10, seed=3),
}


def write_tables(catalog: Catalog) -> dict[str, pd.DataFrame]:
    """The three feature tables; the card table gets a second, late-arriving batch of older event times."""
    frames = {}
    for name, span in SPANS.items():
        rows = write_synthetic_feature_table(catalog, name, span)
        if name == "card_features":
            late = synthetic_rows(name, SyntheticSpan(rows=100, entities=20, days=10, seed=11))
            late = late.set_column(
                1, "transaction_id", pa.array([f"late{i}" for i in range(late.num_rows)], pa.large_string())
            )
            catalog.load_table(f"features.{name}").append(late)
            rows = pa.concat_tables([rows, late])
        frames[name] = rows.to_pandas()
    return frames


def feature_objects(settings: Settings) -> list:
    """Entities, sources, views and a service over the tables, as a feature repo would declare them."""
    objects: list = []
    views = []
    for name, (entity_name, key, ttl, features) in VIEWS.items():
        entity = Entity(name=entity_name, join_keys=[key], value_type=ValueType.STRING)
        source = IcebergSource(
            name=f"{name}_source",
            namespace="features",
            table=name,
            timestamp_field="feature_timestamp",
            **iceberg_source_options(settings),
        )
        dtype = {"tx_count_1h": Int64, "merchant_tx_count_30d": Int64}
        view = FeatureView(
            name=name,
            entities=[entity],
            ttl=ttl,
            schema=[Field(name=feature, dtype=dtype.get(feature, Float64)) for feature in features],
            source=source,
        )
        objects += [entity, source, view]
        views.append(view)
    return [*objects, FeatureService(name="fraud_test", features=views)]


def open_store(settings: Settings, offline_store: str, objects: list) -> FeatureStore:
    home = Path(settings.home)
    kind = offline_store.rsplit(".", 1)[-1].lower()
    config = RepoConfig(
        project="offline_test",
        provider="local",
        registry={"registry_type": "sql", "path": f"sqlite:///{home / f'registry_{kind}.db'}"},
        online_store={"type": "sqlite", "path": str(home / f"online_{kind}.db")},
        offline_store={"type": offline_store},
        entity_key_serialization_version=3,
        repo_path=str(home),
    )
    store = FeatureStore(config=config)
    store.apply(objects)
    return store


def random_entity_rows(frames: dict[str, pd.DataFrame], count: int = 300) -> pd.DataFrame:
    """Entity rows: half at exactly a card feature time, half anywhere; a quarter of ids have no history."""
    rng = np.random.default_rng(5)
    card_times = frames["card_features"]["feature_timestamp"]
    start, end = card_times.min() - pd.Timedelta(days=1), card_times.max() + pd.Timedelta(days=2)
    exact = card_times.sample(count // 2, replace=True, random_state=5).to_numpy()
    anywhere = start + pd.to_timedelta(rng.random(count - count // 2) * (end - start).total_seconds(), unit="s")
    return pd.DataFrame(
        {
            "row": np.arange(count),
            "card_id": entity_ids("card", 25)[rng.integers(0, 25, count)],
            "merchant_id": entity_ids("merc", 13)[rng.integers(0, 13, count)],
            "customer_id": entity_ids("cust", 13)[rng.integers(0, 13, count)],
            "event_timestamp": pd.to_datetime(np.concatenate([exact, anywhere.to_numpy()]), utc=True).floor("us"),
        }
    )


def brute_force(entity_rows: pd.DataFrame, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """For each entity row and view, the last feature row at or before its time and within the TTL."""
    expected = entity_rows.copy()
    for name, (_, key, ttl, features) in VIEWS.items():
        table = frames[name]
        values: dict[str, list] = {feature: [] for feature in features}
        for entity, moment in zip(entity_rows[key], entity_rows["event_timestamp"], strict=True):
            candidates = table[(table[key] == entity) & (table["feature_timestamp"] <= moment)]
            if ttl:
                candidates = candidates[candidates["feature_timestamp"] >= moment - ttl]
            latest = candidates.loc[candidates["feature_timestamp"].idxmax()] if len(candidates) else None
            for feature in features:
                values[feature].append(np.nan if latest is None else latest[feature])
        for feature in features:
            expected[feature] = values[feature]
    return expected


def as_comparable(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("row").reset_index(drop=True)
    frame["event_timestamp"] = frame["event_timestamp"].astype("datetime64[us, UTC]")
    return frame.astype({column: "float64" for column in frame.columns if column.endswith(("_1h", "_30d", "ratio"))})


@pytest.mark.slow
def test_point_in_time_join_matches_brute_force_and_stock_store(settings: Settings, catalog: Catalog) -> None:
    frames = write_tables(catalog)
    entity_rows = random_entity_rows(frames)
    objects = feature_objects(settings)
    lake = open_store(settings, LAKE_STORE, objects)
    stock = open_store(settings, "duckdb", objects)

    service = lake.get_feature_service("fraud_test")
    from_lake = lake.get_historical_features(entity_df=entity_rows, features=service).to_df()
    from_stock = stock.get_historical_features(entity_df=entity_rows, features=service).to_df()
    expected = brute_force(entity_rows, frames)

    assert list(from_lake["row"]) == list(range(len(entity_rows))), "rows come back in the entity frame's order"
    pd.testing.assert_frame_equal(as_comparable(from_lake), as_comparable(expected[from_lake.columns]))
    pd.testing.assert_frame_equal(as_comparable(from_lake), as_comparable(from_stock[from_lake.columns]))
    card_values = from_lake["tx_count_1h"]
    assert card_values.notna().sum() > 50 and card_values.isna().sum() > 50, "the data exercises hits and misses"


def test_full_feature_names_and_naive_timestamps_agree_with_stock_store(settings: Settings, catalog: Catalog) -> None:
    frames = write_tables(catalog)
    entity_rows = random_entity_rows(frames, count=40)
    entity_rows["event_timestamp"] = entity_rows["event_timestamp"].dt.tz_localize(None)
    objects = feature_objects(settings)
    features = ["card_features:tx_count_1h", "merchant_features:merchant_tx_count_30d"]
    results = [
        open_store(settings, kind, objects)
        .get_historical_features(entity_df=entity_rows, features=features, full_feature_names=True)
        .to_df()
        for kind in (LAKE_STORE, "duckdb")
    ]
    assert {"card_features__tx_count_1h", "merchant_features__merchant_tx_count_30d"} <= set(results[0].columns)
    pd.testing.assert_frame_equal(as_comparable(results[0]), as_comparable(results[1][results[0].columns]))


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({}, "lacks the join key column.s. merchant_id"),
        ({"merchant_id": ["merc000001"], "merchant_tx_count_30d": [3]}, "merchant_tx_count_30d have the names of"),
        ({"merchant_id": ["merc000001"], "__lake_row": [0]}, "column named '__lake_row'"),
        ({"merchant_id": [1]}, "column 'merchant_id' holds integers but the key 'merchant_id' of merchant_features"),
    ],
)
def test_entity_frames_the_store_cannot_answer_are_refused_by_name(
    settings: Settings, catalog: Catalog, extra: dict, refusal: str
) -> None:
    write_tables(catalog)
    store = open_store(settings, LAKE_STORE, feature_objects(settings))
    rows = pd.DataFrame({"card_id": ["card000001"], "event_timestamp": [pd.Timestamp("2026-01-02", tz="UTC")], **extra})
    with pytest.raises(FeaturesError, match=refusal):
        store.get_historical_features(entity_df=rows, features=["merchant_features:merchant_tx_count_30d"]).to_df()


def test_rows_pushed_offline_are_appended_to_the_views_table_and_misfits_refused(
    settings: Settings, catalog: Catalog
) -> None:
    frames = write_tables(catalog)
    store = open_store(settings, LAKE_STORE, feature_objects(settings))
    view = store.get_feature_view("card_features")
    pushed = synthetic_rows("card_features", SyntheticSpan(rows=5, entities=2, days=1, seed=21))
    counted: list[int] = []

    LakeOfflineStore.offline_write_batch(store.config, view, pushed, counted.append)

    table = catalog.load_table("features.card_features")
    assert table.scan().count() == len(frames["card_features"]) + 5
    assert counted == [5]
    with pytest.raises(FeaturesError, match="lack column"):
        LakeOfflineStore.offline_write_batch(store.config, view, pushed.drop_columns(["tx_count_1h"]), None)
    misfit = pushed.set_column(3, "tx_count_1h", pa.array(["many"] * 5))
    with pytest.raises(FeaturesError, match="do not fit"):
        LakeOfflineStore.offline_write_batch(store.config, view, misfit, None)
    assert catalog.load_table("features.card_features").scan().count() == len(frames["card_features"]) + 5


@pytest.mark.parametrize(
    ("filter_by_created_timestamp", "expected"),
    [
        (False, [2.0, 2.0, 4.0, 5.0, 5.0, None, 8.0, 9.0, None, None]),
        # only rows created by the entity row's time count, and a row without a created time never does
        (True, [1.0, 1.0, 1.0, 5.0, 5.0, None, None, 8.0, None, None]),
    ],
)
def test_created_time_breaks_ties_between_equal_event_times_like_the_stock_store(
    settings: Settings, catalog: Catalog, filter_by_created_timestamp: bool, expected: list[float | None]
) -> None:
    hour = pd.Timedelta(hours=1)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    schema = pa.schema(
        [("card_id", pa.string()), ("feature_timestamp", TIMESTAMP), ("created_at", TIMESTAMP), ("score", pa.float64())]
    )

    def rows(*values: tuple[str, int, int | None, float]) -> pa.Table:
        card, at, created, score = zip(*values, strict=True)
        moments = [start + n * hour for n in at]
        made = [None if n is None else start + n * hour for n in created]
        return pa.table([list(card), moments, made, list(score)], schema=schema)

    table = catalog.create_table("features.revised_card_features", schema=schema)
    table.append(rows(("card1", 0, 0, 1.0), ("card1", 2, None, 4.0), ("card1", 3, None, 6.0), ("card2", 1, None, 7.0)))
    # A later batch revises some event times: the latest created row wins, and a missing created time loses.
    table.append(rows(("card1", 0, 5, 2.0), ("card1", 0, None, 3.0), ("card1", 3, 1, 5.0), ("card2", 1, 2, 8.0)))
    table.append(rows(("card2", 4, 10, 9.0)))
    card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.STRING)
    source = IcebergSource(
        name="revised_source",
        namespace="features",
        table="revised_card_features",
        timestamp_field="feature_timestamp",
        created_timestamp_column="created_at",
        **iceberg_source_options(settings),
    )
    view = FeatureView(
        name="revised",
        entities=[card],
        ttl=timedelta(days=1),
        schema=[Field(name="score", dtype=Float64)],
        source=source,
    )
    asked = [("card1", 0), ("card1", 1), ("card1", 2), ("card1", 3), ("card1", 10), ("card2", 0), ("card2", 1)]
    asked += [("card2", 5), ("card3", 5), ("card1", 30)]
    entity_rows = pd.DataFrame(
        {"card_id": [card_id for card_id, _ in asked], "event_timestamp": [start + n * hour for _, n in asked]}
    )

    results = [
        open_store(settings, kind, [card, source, view])
        .get_historical_features(
            entity_df=entity_rows, features=["revised:score"], filter_by_created_timestamp=filter_by_created_timestamp
        )
        .to_df()
        for kind in (LAKE_STORE, "duckdb")
    ]

    assert [None if pd.isna(score) else score for score in results[0]["score"]] == expected
    by_row = [result.set_index(["card_id", "event_timestamp"]).sort_index() for result in results]
    pd.testing.assert_series_equal(by_row[0]["score"], by_row[1]["score"])


def test_views_keyed_by_two_entities_match_merge_asof_and_stock_store(settings: Settings, catalog: Catalog) -> None:
    rng = np.random.default_rng(9)
    start, count = pd.Timestamp("2026-01-01", tz="UTC"), 300
    rows = pd.DataFrame(
        {
            "card_id": entity_ids("card", 5)[rng.integers(0, 5, count)],
            "merchant_id": entity_ids("merc", 4)[rng.integers(0, 4, count)],
            "feature_timestamp": start + pd.to_timedelta(rng.integers(0, 10 * 86_400_000_000, count), unit="us"),
            "spend": rng.random(count),
        }
    )
    schema = pa.schema(
        [
            ("card_id", pa.string()),
            ("merchant_id", pa.string()),
            ("feature_timestamp", TIMESTAMP),
            ("spend", pa.float64()),
        ]
    )
    table = catalog.create_table("features.card_merchant_features", schema=schema)
    table.append(pa.Table.from_pandas(rows, preserve_index=False).cast(schema))
    card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.STRING)
    merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.STRING)
    source = IcebergSource(
        name="card_merchant_source",
        namespace="features",
        table="card_merchant_features",
        timestamp_field="feature_timestamp",
        **iceberg_source_options(settings),
    )
    view = FeatureView(
        name="card_merchant",
        entities=[card, merchant],
        ttl=timedelta(days=1),
        schema=[Field(name="spend", dtype=Float64)],
        source=source,
    )
    asked = 80
    entity_rows = pd.DataFrame(
        {
            "card_id": entity_ids("card", 6)[rng.integers(0, 6, asked)],
            "merchant_id": entity_ids("merc", 4)[rng.integers(0, 4, asked)],
            "event_timestamp": start + pd.to_timedelta(rng.integers(0, 11 * 86_400_000_000, asked), unit="us"),
        }
    )

    results = [
        open_store(settings, kind, [card, merchant, source, view])
        .get_historical_features(entity_df=entity_rows, features=["card_merchant:spend"])
        .to_df()
        for kind in (LAKE_STORE, "duckdb")
    ]

    expected = pd.merge_asof(
        entity_rows.reset_index().sort_values("event_timestamp"),
        rows.sort_values("feature_timestamp"),
        left_on="event_timestamp",
        right_on="feature_timestamp",
        by=["card_id", "merchant_id"],
        tolerance=pd.Timedelta(days=1),
    ).sort_values("index")
    assert results[0]["spend"].tolist() == pytest.approx(expected["spend"].tolist(), nan_ok=True)
    assert results[0]["spend"].notna().sum() > 20 and results[0]["spend"].isna().sum() > 5
    by_row = [result.set_index(["card_id", "merchant_id", "event_timestamp"]).sort_index() for result in results]
    pd.testing.assert_series_equal(by_row[0]["spend"], by_row[1]["spend"])


def test_entity_row_with_missing_key_keeps_its_place_like_the_stock_store(settings: Settings, catalog: Catalog) -> None:
    frames = write_tables(catalog)
    entity_rows = random_entity_rows(frames, count=40)
    entity_rows.loc[[3, 17], "card_id"] = None
    objects = feature_objects(settings)
    features = ["card_features:tx_count_1h", "merchant_features:merchant_tx_count_30d"]
    results = [
        open_store(settings, kind, objects).get_historical_features(entity_df=entity_rows, features=features).to_df()
        for kind in (LAKE_STORE, "duckdb")
    ]

    assert list(results[0]["row"]) == list(range(len(entity_rows))), "each view answers every row, in order"
    assert results[0]["tx_count_1h"].iloc[[3, 17]].isna().all()
    assert results[0]["merchant_tx_count_30d"].notna().sum() > 10
    pd.testing.assert_frame_equal(as_comparable(results[0]), as_comparable(results[1][results[0].columns]))


def test_empty_entity_frame_gives_an_empty_training_set_like_the_stock_store(
    settings: Settings, catalog: Catalog
) -> None:
    frames = write_tables(catalog)
    entity_rows = random_entity_rows(frames, count=10).head(0)
    objects = feature_objects(settings)
    service_features = ["card_features:tx_count_1h", "customer_features:customer_avg_amount_30d_cents"]
    results = [
        open_store(settings, kind, objects).get_historical_features(entity_df=entity_rows, features=service_features)
        for kind in (LAKE_STORE, "duckdb")
    ]

    from_lake, from_stock = (job.to_df() for job in results)
    assert from_lake.empty and list(from_lake.columns) == list(from_stock.columns)
    assert results[0].metadata is not None and results[0].metadata.min_event_timestamp is None


def test_a_view_without_ttl_answers_from_rows_older_than_every_entity_row(settings: Settings, catalog: Catalog) -> None:
    frames = write_tables(catalog)
    entity_rows = random_entity_rows(frames, count=30)
    entity_rows["event_timestamp"] = frames["customer_features"]["feature_timestamp"].max() + pd.Timedelta(days=30)
    features = ["customer_features:customer_avg_amount_30d_cents"]
    from_lake = (
        open_store(settings, LAKE_STORE, feature_objects(settings))
        .get_historical_features(entity_df=entity_rows, features=features)
        .to_df()
    )

    expected = brute_force(entity_rows, frames)[from_lake.columns]
    assert from_lake["customer_avg_amount_30d_cents"].notna().sum() > 20, "customers' last rows still count (no TTL)"
    pd.testing.assert_frame_equal(as_comparable(from_lake), as_comparable(expected))
