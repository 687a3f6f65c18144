"""A small, complete scoring world in one data home: for tests, the benchmark, and trying the service out.

It writes what the real pipeline would have produced, at a chosen size: dbt-shaped ``features.*`` tables
(:mod:`lake.feast.synthetic`), the ``raw.cards`` rows linking cards to customers, the Feast repo applied and
materialized, and a small XGBoost model registered and promoted to champion. Its model flags a payment as
fraud when it is far larger than the card's usual amount or far from home, so crafted transactions get
predictable decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import xgboost

from lake.catalog import load_catalog
from lake.contracts import get_contract
from lake.feast.environment import apply_feature_repo, open_feature_store
from lake.feast.materialization import materialize_views
from lake.feast.synthetic import SyntheticSpan, entity_ids, write_synthetic_feature_table
from lake.settings import Settings
from models.registry import FEATURE_SERVICE, ModelVersion, promote_model_version, register_model_version

SMALL_SPANS = {
    "card_features": SyntheticSpan(rows=400, entities=100, days=5, seed=1),
    "merchant_features": SyntheticSpan(rows=100, entities=20, days=5, seed=2),
    "customer_features": SyntheticSpan(rows=100, entities=25, days=5, seed=3),
}
"""Sizes for tests: a few seconds to build."""
THRESHOLDS = {"review": 0.5, "decline": 0.8}


@dataclass(frozen=True)
class Sandbox:
    """What was built: the ids that have features, and the champion."""

    settings: Settings
    card_ids: list[str]
    merchant_ids: list[str]
    champion: ModelVersion


def service_features(settings: Settings, service_name: str = FEATURE_SERVICE) -> list[str]:
    """The model inputs a feature service yields, in Feast's order (``full_feature_names=False``)."""
    service = open_feature_store(settings).get_feature_service(service_name)
    return [feature.name for projection in service.feature_view_projections for feature in projection.features]


def train_rule_model(features: list[str], seed: int = 0, flip_above: float = 4.0) -> xgboost.Booster:
    """A small booster that learned "fraud when the amount is ``flip_above`` times the card's 7-day mean or
    the payment is over 500 km from home" on random inputs (missing values included)."""
    rng = np.random.default_rng(seed)
    rows = 4_000
    matrix = rng.gamma(2.0, 50.0, size=(rows, len(features)))
    ratio, distance = features.index("amount_to_card_avg_7d"), features.index("distance_from_home_km")
    matrix[:, ratio] = rng.lognormal(0.0, 1.2, rows)
    matrix[:, distance] = rng.exponential(150.0, rows)
    labels = (matrix[:, ratio] > flip_above) | (matrix[:, distance] > 500.0)
    matrix[rng.random(matrix.shape) < 0.05] = np.nan
    data = xgboost.DMatrix(matrix, label=labels.astype(np.float32), feature_names=features, missing=np.nan)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": seed}
    return xgboost.train(params, data, num_boost_round=30)


def write_card_holders(settings: Settings, cards: int, customers: int) -> list[str]:
    """Create ``raw.cards`` with ``cards`` cards spread over ``customers`` customers; returns the card ids."""
    contract = get_contract("cards")
    card_ids = entity_ids("card", cards).tolist()
    holders = entity_ids("cust", customers)[np.arange(cards) % customers].tolist()
    rows = pa.table(
        {
            "card_id": card_ids,
            "customer_id": holders,
            "card_number": [f"4000{i:012d}" for i in range(cards)],
            "card_type": ["credit"] * cards,
            "credit_limit_cents": [500_000] * cards,
            "issued_at": [datetime(2025, 1, 1, tzinfo=UTC)] * cards,
        },
        schema=contract.arrow_schema(),
    )
    table = load_catalog(settings).create_table(
        contract.table_name, schema=contract.iceberg_schema(), partition_spec=contract.partition_spec()
    )
    table.append(rows)
    return card_ids


def register_champion(settings: Settings, booster: xgboost.Booster, features: list[str]) -> ModelVersion:
    """Register a booster for ``fraud_model_v1`` with :data:`THRESHOLDS` and make it the champion."""
    mv = register_model_version(booster, features, THRESHOLDS, metrics={"pr_auc": 1.0}, settings=settings)
    return promote_model_version(mv.version, settings=settings)


def build_sandbox(settings: Settings, spans: dict[str, SyntheticSpan] = SMALL_SPANS) -> Sandbox:
    """Write feature tables and cards, apply and materialize the Feast repo, register a champion.

    Args:
        settings: an empty data home's settings.
        spans: size of each synthetic ``features.*`` table.

    Returns:
        The ids with online features and the champion version.
    """
    catalog = load_catalog(settings)
    tables = {name: write_synthetic_feature_table(catalog, name, span) for name, span in spans.items()}
    card_ids = write_card_holders(settings, spans["card_features"].entities, spans["customer_features"].entities)
    apply_feature_repo(settings)
    end = max(table.column("feature_timestamp").to_pylist()[-1] for table in tables.values()) + timedelta(seconds=1)
    materialize_views(open_feature_store(settings), end - timedelta(days=60), end)
    features = service_features(settings)
    champion = register_champion(settings, train_rule_model(features), features)
    merchants = sorted(set(tables["merchant_features"].column("merchant_id").to_pylist()))
    cards_with_features = set(tables["card_features"].column("card_id").to_pylist())
    return Sandbox(settings, [card for card in card_ids if card in cards_with_features], merchants, champion)


def transaction(card_id: str, merchant_id: str, amount_cents: int, number: int = 0, **fields: Any) -> dict[str, Any]:
    """A ``raw.transactions`` event as the payment system would send it."""
    event = {
        "transaction_id": f"tx-{card_id}-{number}",
        "card_id": card_id,
        "merchant_id": merchant_id,
        "amount_cents": amount_cents,
        "currency": "EUR",
        "channel": "pos",
        "lat": 48.85,
        "lon": 2.35,
        "transaction_at": "2026-01-06T12:00:00+00:00",
    }
    return event | fields
