"""Synthetic feature tables shaped like dbt's ``features.*`` models, written straight into Iceberg.

Benchmarks and tests need feature tables of a chosen size without running the whole pipeline; these have the
columns and types of ``dbt_project/models/features/*.sql`` and the same day partitioning. Every event time is
distinct within a table, so "the latest row at or before t" is always one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DateType, DoubleType, LongType, NestedField, StringType, TimestamptzType

from lake.errors import FeaturesError

TIMESTAMP = pa.timestamp("us", tz="UTC")

FEATURE_TABLES: dict[str, dict[str, pa.DataType]] = {
    "card_features": {
        "card_id": pa.large_string(),
        "transaction_id": pa.large_string(),
        "feature_timestamp": TIMESTAMP,
        "tx_count_1h": pa.int64(),
        "amount_sum_1h_cents": pa.int64(),
        "tx_count_24h": pa.int64(),
        "amount_sum_24h_cents": pa.int64(),
        "tx_count_7d": pa.int64(),
        "amount_sum_7d_cents": pa.int64(),
        "distinct_merchants_24h": pa.int64(),
        "distinct_categories_24h": pa.int64(),
        "amount_to_avg_7d_ratio": pa.float64(),
        "seconds_since_previous_tx": pa.float64(),
        "distance_from_home_km": pa.float64(),
        "card_chargebacks_90d": pa.int64(),
    },
    "merchant_features": {
        "merchant_id": pa.large_string(),
        "feature_timestamp": TIMESTAMP,
        "feature_date": pa.date32(),
        "merchant_tx_count_30d": pa.int64(),
        "merchant_chargebacks_30d": pa.int64(),
        "merchant_chargeback_rate_30d": pa.float64(),
    },
    "customer_features": {
        "customer_id": pa.large_string(),
        "feature_timestamp": TIMESTAMP,
        "feature_date": pa.date32(),
        "customer_tx_count_30d": pa.int64(),
        "customer_amount_sum_30d_cents": pa.int64(),
        "customer_avg_amount_30d_cents": pa.float64(),
        "customer_cards_held": pa.int64(),
        "customer_account_age_days": pa.int64(),
    },
}
"""Columns of each ``features.*`` table, as dbt builds them."""

_ICEBERG_TYPES = {
    pa.large_string(): StringType(),
    TIMESTAMP: TimestamptzType(),
    pa.date32(): DateType(),
    pa.int64(): LongType(),
    pa.float64(): DoubleType(),
}


@dataclass(frozen=True)
class SyntheticSpan:
    """Size and time span of one synthetic feature table.

    Attributes:
        rows: rows to write (day-grain tables keep one row per entity per day, so may end with fewer).
        entities: distinct entity ids.
        start: earliest event time.
        days: length of the span in days.
        seed: random seed.
    """

    rows: int
    entities: int
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    days: int = 60
    seed: int = 7


def entity_ids(prefix: str, count: int) -> np.ndarray:
    """Entity ids ``<prefix>000001``... as the synthetic tables use them."""
    return np.char.add(prefix, np.char.zfill(np.arange(1, count + 1).astype(str), 6))


def _schema(columns: dict[str, pa.DataType]) -> Schema:
    fields = [
        NestedField(position, name, _ICEBERG_TYPES[kind], required=False)
        for position, (name, kind) in enumerate(columns.items(), start=1)
    ]
    return Schema(*fields)


def create_feature_table(catalog: Catalog, name: str) -> Table:
    """Create ``features.<name>`` (day-partitioned on ``feature_timestamp``) with the dbt model's columns.

    Raises:
        FeaturesError: ``name`` is not one of :data:`FEATURE_TABLES`.
    """
    if name not in FEATURE_TABLES:
        raise FeaturesError(f"unknown feature table {name!r}; choose one of {', '.join(FEATURE_TABLES)}")
    schema = _schema(FEATURE_TABLES[name])
    timestamp_id = schema.find_field("feature_timestamp").field_id
    spec = PartitionSpec(PartitionField(timestamp_id, 1000, DayTransform(), "feature_timestamp_day"))
    return catalog.create_table(f"features.{name}", schema=schema, partition_spec=spec)


def synthetic_rows(name: str, span: SyntheticSpan) -> pa.Table:
    """Random rows for ``features.<name>`` with distinct event times, sorted by event time."""
    rng = np.random.default_rng(span.seed)
    columns = FEATURE_TABLES[name]
    entity = next(iter(columns))
    ids = entity_ids(entity.split("_")[0][:4], span.entities)
    keys = rng.integers(0, span.entities, span.rows)
    if name == "card_features":
        micros = span.days * 86_400_000_000
        step = micros // span.rows
        offsets = np.arange(span.rows, dtype=np.int64) * step + rng.integers(0, step, span.rows)
    else:
        days = rng.integers(1, span.days + 1, span.rows)
        keys, days = np.unique(np.stack([keys, days]), axis=1)
        offsets = days.astype(np.int64) * 86_400_000_000
    count = len(keys)
    start_us = int(span.start.timestamp() * 1_000_000)
    values: dict[str, pa.Array] = {
        entity: pa.array(ids[keys], pa.large_string()),
        "feature_timestamp": pa.array(start_us + offsets, pa.int64()).cast(TIMESTAMP),
    }
    for column, kind in columns.items():
        if column in values:
            continue
        if column == "transaction_id":
            values[column] = pa.array(np.char.add("tx", np.arange(count).astype(str)), pa.large_string())
        elif column == "feature_date":
            values[column] = _previous_day(values["feature_timestamp"])
        elif kind == pa.int64():
            values[column] = pa.array(rng.integers(0, 1_000, count), pa.int64())
        else:
            values[column] = pa.array(rng.random(count) * 100.0, pa.float64())
    table = pa.table([values[column] for column in columns], schema=pa.schema(list(columns.items())))
    return table.sort_by("feature_timestamp")


def _previous_day(timestamps: pa.Array) -> pa.Array:
    days = pa.array(timestamps.cast(pa.int64()).to_numpy() // 86_400_000_000 - 1, pa.int32())
    return days.cast(pa.date32())


def write_synthetic_feature_table(catalog: Catalog, name: str, span: SyntheticSpan) -> pa.Table:
    """Create ``features.<name>`` and append :func:`synthetic_rows` to it.

    Returns:
        The rows written.
    """
    rows = synthetic_rows(name, span)
    table = create_feature_table(catalog, name)
    table.append(rows)
    return rows
