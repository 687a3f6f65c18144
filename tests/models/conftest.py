"""A small fraud lake for the model tests: dbt-shaped curated and feature tables written with pyiceberg.

Fraud payments are mostly far from home and somewhat larger and faster than legitimate ones, so a model learns them
better than amount-and-velocity rules do; each is charged back 1 to 20 days later. Writing these tables and applying
the Feast repo takes a few seconds, against minutes for the generator -> ingest -> dbt path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from lake.feast.environment import apply_feature_repo
from lake.feast.synthetic import FEATURE_TABLES, TIMESTAMP, create_feature_table
from lake.settings import Settings

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
CARDS, MERCHANTS, CUSTOMERS = 150, 40, 100
TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.large_string()),
        ("card_id", pa.large_string()),
        ("customer_id", pa.large_string()),
        ("merchant_id", pa.large_string()),
        ("amount_cents", pa.int64()),
        ("transaction_at", TIMESTAMP),
    ]
)
CHARGEBACKS_SCHEMA = pa.schema(
    [
        ("chargeback_id", pa.large_string()),
        ("transaction_id", pa.large_string()),
        ("card_id", pa.large_string()),
        ("reported_at", TIMESTAMP),
    ]
)


@dataclass(frozen=True)
class FraudLake:
    """What the fixture wrote: the rows of each table, as Arrow."""

    transactions: pa.Table
    chargebacks: pa.Table
    card_features: pa.Table


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(prefix, numbers.astype(str)), pa.large_string())


def _times(start: datetime, offsets_us: np.ndarray) -> pa.Array:
    return pa.array(int(start.timestamp() * 1_000_000) + offsets_us.astype(np.int64), pa.int64()).cast(TIMESTAMP)


def fraud_rows(count: int, seed: int, start: datetime = START, days: int = DAYS, first_id: int = 0) -> FraudLake:
    """Transactions with 5 % fraud, their chargebacks and the card feature row of each transaction."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(count) < 0.05
    offsets = np.sort(rng.choice(days * 86_400_000_000, count, replace=False))
    cards = rng.integers(0, CARDS, count)
    amount = np.where(fraud, rng.integers(100, 30_000, count), rng.integers(100, 15_000, count))
    far = np.where(fraud, rng.random(count) < 0.8, rng.random(count) < 0.02)
    transaction_ids = _ids("tx", np.arange(first_id, first_id + count))
    times = _times(start, offsets)
    transactions = pa.table(
        {
            "transaction_id": transaction_ids,
            "card_id": _ids("card", cards),
            "customer_id": _ids("cust", cards % CUSTOMERS),
            "merchant_id": _ids("merch", rng.integers(0, MERCHANTS, count)),
            "amount_cents": pa.array(amount, pa.int64()),
            "transaction_at": times,
        },
        schema=TRANSACTIONS_SCHEMA,
    )
    charged = np.flatnonzero(fraud)
    delays = rng.integers(1 * 86_400_000_000, 20 * 86_400_000_000, len(charged))
    chargebacks = pa.table(
        {
            "chargeback_id": _ids("cb", np.arange(first_id, first_id + len(charged))),
            "transaction_id": transaction_ids.take(charged),
            "card_id": _ids("card", cards[charged]),
            "reported_at": _times(start, offsets[charged] + delays),
        },
        schema=CHARGEBACKS_SCHEMA,
    )
    burst = np.where(fraud, rng.integers(1, 5, count), rng.integers(1, 4, count))
    values = {
        "card_id": _ids("card", cards),
        "transaction_id": transaction_ids,
        # known a second before the payment, as scoring sees it: training looks features up just before each payment
        "feature_timestamp": _times(start, offsets - 1_000_000),
        "tx_count_1h": burst,
        "amount_sum_1h_cents": amount * burst,
        "tx_count_24h": burst + rng.integers(0, 5, count),
        "amount_sum_24h_cents": amount * burst + rng.integers(0, 50_000, count),
        "tx_count_7d": burst + rng.integers(5, 30, count),
        "amount_sum_7d_cents": rng.integers(10_000, 500_000, count),
        "distinct_merchants_24h": rng.integers(1, 5, count),
        "distinct_categories_24h": rng.integers(1, 4, count),
        "amount_to_avg_7d_ratio": np.where(fraud, rng.uniform(0.5, 6, count), rng.uniform(0.1, 4, count)),
        "seconds_since_previous_tx": np.where(fraud, rng.uniform(5, 50_000, count), rng.uniform(60, 200_000, count)),
        "distance_from_home_km": np.where(far, rng.uniform(50, 5_000, count), rng.uniform(0, 40, count)),
        "card_chargebacks_90d": rng.integers(0, 2, count),
    }
    schema = pa.schema(list(FEATURE_TABLES["card_features"].items()))
    card_features = pa.table([pa.array(values[name], schema.field(name).type) for name in schema.names], schema=schema)
    return FraudLake(transactions, chargebacks, card_features)


def _daily_rows(name: str, entity: str, prefix: str, count: int, seed: int) -> pa.Table:
    """One row per entity per day of ``features.<name>`` with plausible values."""
    rng = np.random.default_rng(seed)
    keys, days = np.meshgrid(np.arange(count), np.arange(DAYS + 1))
    keys, days = keys.ravel(), days.ravel()
    schema = pa.schema(list(FEATURE_TABLES[name].items()))
    day_us = 86_400_000_000
    columns: dict[str, pa.Array] = {
        entity: _ids(prefix, keys),
        "feature_timestamp": _times(START, days * day_us),
        "feature_date": pa.array(days - 1 + (START.date() - datetime(1970, 1, 1).date()).days, pa.int32()).cast(
            pa.date32()
        ),
    }
    for column, kind in zip(schema.names, schema.types, strict=True):
        if column not in columns:
            raw = rng.integers(1, 500, len(keys)) if kind == pa.int64() else rng.uniform(0, 1, len(keys))
            columns[column] = pa.array(raw, kind)
    return pa.table([columns[column] for column in schema.names], schema=schema)


def write_fraud_lake(catalog: Catalog, rows: FraudLake) -> None:
    """Create the curated and feature tables the training set reads and append ``rows`` (and daily features)."""
    catalog.create_table("curated.fct_transactions", schema=TRANSACTIONS_SCHEMA).append(rows.transactions)
    catalog.create_table("curated.fct_chargebacks", schema=CHARGEBACKS_SCHEMA).append(rows.chargebacks)
    create_feature_table(catalog, "card_features").append(rows.card_features)
    create_feature_table(catalog, "merchant_features").append(
        _daily_rows("merchant_features", "merchant_id", "merch", MERCHANTS, 1)
    )
    create_feature_table(catalog, "customer_features").append(
        _daily_rows("customer_features", "customer_id", "cust", CUSTOMERS, 2)
    )


def append_fraud_rows(catalog: Catalog, rows: FraudLake) -> None:
    """Land more data in the curated and card feature tables (new snapshots)."""
    catalog.load_table("curated.fct_transactions").append(rows.transactions)
    catalog.load_table("curated.fct_chargebacks").append(rows.chargebacks)
    catalog.load_table("features.card_features").append(rows.card_features)


@pytest.fixture
def fraud_lake(catalog: Catalog, settings: Settings) -> FraudLake:
    """3,000 transactions over January 2026 in the test's lake, with the Feast repo applied to it."""
    rows = fraud_rows(3_000, seed=11)
    write_fraud_lake(catalog, rows)
    apply_feature_repo(settings)
    return rows
