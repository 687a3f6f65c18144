"""Small hand-made landing files for the ingestion tests (independent of the generator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

START = datetime(2026, 1, 1, tzinfo=UTC)


def transactions(n: int, first: int = 0, **columns: list[Any]) -> pl.DataFrame:
    """``n`` valid transactions ``t<first>..`` over two days; ``columns`` replaces or adds whole columns."""
    ids = range(first, first + n)
    frame = pl.DataFrame(
        {
            "transaction_id": [f"t{i:05d}" for i in ids],
            "card_id": [f"c{i % 7}" for i in ids],
            "merchant_id": [f"m{i % 3}" for i in ids],
            "amount_cents": [100 + i for i in ids],
            "currency": ["EUR", "USD", "GBP"] * (n // 3) + ["EUR"] * (n % 3),
            "channel": ["pos", "online"] * (n // 2) + ["atm"] * (n % 2),
            "lat": [48.0] * n,
            "lon": [None] * n,
            "transaction_at": [START + timedelta(hours=7 * i) for i in ids],
        },
        schema_overrides={"lon": pl.Float64, "transaction_at": pl.Datetime("us", "UTC")},
    )
    return frame.with_columns(pl.Series(name, values, strict=False) for name, values in columns.items())


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, timestamps in ISO-8601 with an offset: what a CSV or JSON producer sends."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z"), pl.exclude(pl.Datetime).cast(pl.String)
    )


def write(frame: pl.DataFrame, path: Path) -> Path:
    """Write a frame in the format its extension names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    elif path.suffix == ".csv":
        as_text(frame).write_csv(path)
    else:
        frame.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")).write_ndjson(path)
    return path
