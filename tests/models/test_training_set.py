"""The training set: labels known at the cutoff, Feast's point-in-time features, time split, reproduction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from lake.errors import ModelsError
from models.training_set import (
    EVENT_TIME,
    LABEL,
    fetch_training_set,
    labeled_transactions,
    rebuild_training_set,
    split_by_time,
)
from tests.models.conftest import CHARGEBACKS_SCHEMA, START, FraudLake, append_fraud_rows, fraud_rows

CUTOFF = datetime(2026, 1, 25, tzinfo=UTC)
SERVICE_FEATURES = [
    "tx_count_1h",
    "amount_sum_1h_cents",
    "tx_count_24h",
    "amount_sum_24h_cents",
    "tx_count_7d",
    "amount_sum_7d_cents",
    "distinct_merchants_24h",
    "distinct_categories_24h",
    "amount_to_avg_7d_ratio",
    "seconds_since_previous_tx",
    "distance_from_home_km",
    "card_chargebacks_90d",
    "merchant_tx_count_30d",
    "merchant_chargebacks_30d",
    "merchant_chargeback_rate_30d",
    "customer_tx_count_30d",
    "customer_amount_sum_30d_cents",
    "customer_avg_amount_30d_cents",
    "customer_cards_held",
    "customer_account_age_days",
    "amount_to_card_avg_7d",
    "amount_to_customer_avg_30d",
]


def _snapshots(catalog: Catalog) -> dict[str, int]:
    names = ["curated.fct_transactions", "curated.fct_chargebacks"]
    return {name: catalog.load_table(name).current_snapshot().snapshot_id for name in names}


def test_labels_are_the_chargebacks_reported_by_the_cutoff(catalog: Catalog, fraud_lake: FraudLake) -> None:
    entities = labeled_transactions(catalog, CUTOFF, _snapshots(catalog)).set_index("transaction_id")
    chargebacks = fraud_lake.chargebacks.to_pandas()
    known = chargebacks[chargebacks["reported_at"] <= CUTOFF]
    later = chargebacks[chargebacks["reported_at"] > CUTOFF]
    assert entities[EVENT_TIME].max() < CUTOFF
    assert entities.index.intersection(later["transaction_id"]).size > 0
    assert (entities.loc[entities.index.intersection(later["transaction_id"]), LABEL] == 0).all()
    assert set(entities.index[entities[LABEL] == 1]) == set(known["transaction_id"])


def test_label_maturity_leaves_out_the_latest_transactions(catalog: Catalog, fraud_lake: FraudLake) -> None:
    entities = labeled_transactions(catalog, CUTOFF, _snapshots(catalog), maturity=timedelta(days=7))
    every = labeled_transactions(catalog, CUTOFF, _snapshots(catalog))
    assert entities[EVENT_TIME].max() < CUTOFF - timedelta(days=7)
    assert len(every) > len(entities)


def test_cutoff_must_carry_a_time_zone_and_follow_some_transaction(catalog: Catalog, fraud_lake: FraudLake) -> None:
    with pytest.raises(ModelsError, match="time zone"):
        labeled_transactions(catalog, datetime(2026, 1, 25), _snapshots(catalog))
    with pytest.raises(ModelsError, match="no transaction before"):
        labeled_transactions(catalog, START, _snapshots(catalog))


def test_feast_returns_the_service_features_as_of_each_transaction(fraud_lake: FraudLake) -> None:
    training_set = fetch_training_set(CUTOFF)
    frame = training_set.frame.set_index("transaction_id")
    card = fraud_lake.card_features.to_pandas().set_index("transaction_id")
    assert training_set.features == SERVICE_FEATURES
    assert frame[EVENT_TIME].is_monotonic_increasing
    assert set(training_set.snapshots) == {
        "curated.fct_transactions",
        "curated.fct_chargebacks",
        "features.card_features",
        "features.customer_features",
        "features.merchant_features",
    }
    pd.testing.assert_series_equal(
        frame["distance_from_home_km"], card.loc[frame.index, "distance_from_home_km"], check_names=False
    )
    ratio = frame["amount_cents"] / (frame["amount_sum_7d_cents"] / frame["tx_count_7d"])
    pd.testing.assert_series_equal(frame["amount_to_card_avg_7d"], ratio, check_names=False)


def test_split_is_by_event_time(fraud_lake: FraudLake) -> None:
    periods = split_by_time(fetch_training_set(CUTOFF), validation_fraction=0.2, test_fraction=0.2)
    train, validation, test = periods["train"], periods["validation"], periods["test"]
    assert train[EVENT_TIME].max() < validation[EVENT_TIME].min()
    assert validation[EVENT_TIME].max() < test[EVENT_TIME].min()
    total = len(train) + len(validation) + len(test)
    assert abs(len(test) / total - 0.2) < 0.01 and abs(len(validation) / total - 0.2) < 0.01
    with pytest.raises(ModelsError, match="fractions"):
        split_by_time(fetch_training_set(CUTOFF), validation_fraction=0.6, test_fraction=0.5)


def test_rebuild_from_recorded_snapshots_matches_after_new_data(catalog: Catalog, fraud_lake: FraudLake) -> None:
    recorded = fetch_training_set(CUTOFF)
    append_fraud_rows(catalog, fraud_rows(500, seed=12, days=20, first_id=10_000))
    late = pa.table(
        {
            "chargeback_id": ["cb-late"],
            "transaction_id": [recorded.frame.loc[recorded.frame[LABEL] == 0, "transaction_id"].iloc[0]],
            "card_id": ["card0"],
            "reported_at": [CUTOFF - timedelta(days=1)],
        },
        schema=CHARGEBACKS_SCHEMA,
    )
    catalog.load_table("curated.fct_chargebacks").append(late)
    current = fetch_training_set(CUTOFF)
    rebuilt = rebuild_training_set(CUTOFF, timedelta(0), recorded.snapshots)
    assert current.content_hash != recorded.content_hash
    assert rebuilt.content_hash == recorded.content_hash
    pd.testing.assert_frame_equal(rebuilt.frame, recorded.frame)


def test_rebuild_needs_every_snapshot(fraud_lake: FraudLake) -> None:
    recorded = fetch_training_set(CUTOFF)
    partial = {name: snapshot for name, snapshot in recorded.snapshots.items() if not name.startswith("features.")}
    with pytest.raises(ModelsError, match=r"no snapshot for features\.card_features"):
        rebuild_training_set(CUTOFF, timedelta(0), partial)
