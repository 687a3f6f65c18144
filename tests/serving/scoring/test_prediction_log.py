"""The prediction log: buffered rows reach ml.predictions on time, on close, and after a failed write."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pyiceberg.catalog import Catalog

from lake.errors import ScoringError
from serving.scoring.prediction_log import PREDICTIONS_TABLE, PredictionLog


def rows(count: int, start: int = 0) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "request_id": f"r{start + i}",
            "transaction_id": f"t{start + i}",
            "card_id": "card000001",
            "merchant_id": "merc000001",
            "transaction_at": now,
            "scored_at": now,
            "model_version": 1,
            "fraud_probability": 0.25,
            "decision": "approve",
            "feature_values": '{"tx_count_1h": 3.0}',
            "unknown_entities": "",
        }
        for i in range(count)
    ]


def logged_ids(catalog: Catalog) -> list[str]:
    return sorted(
        catalog.load_table(PREDICTIONS_TABLE).scan(selected_fields=("request_id",)).to_arrow()["request_id"].to_pylist()
    )


def test_rows_are_written_within_the_flush_interval(catalog: Catalog) -> None:
    log = PredictionLog(catalog, flush_seconds=0.2)
    log.add(rows(3))
    deadline = time.monotonic() + 10
    while log.buffered and time.monotonic() < deadline:
        time.sleep(0.05)
    log.close()

    assert logged_ids(catalog) == ["r0", "r1", "r2"]


def test_close_writes_everything_still_buffered(catalog: Catalog) -> None:
    log = PredictionLog(catalog, flush_seconds=3600)
    log.add(rows(5))
    assert log.buffered == 5

    assert log.close() == 5
    assert len(logged_ids(catalog)) == 5


def test_a_full_buffer_is_written_at_once(catalog: Catalog) -> None:
    log = PredictionLog(catalog, flush_seconds=3600, max_buffered_rows=4)
    log.add(rows(3))
    log.add(rows(3, start=3))

    assert log.buffered == 3
    assert logged_ids(catalog) == ["r0", "r1", "r2"]
    log.close()


def test_a_failed_write_keeps_the_rows_and_a_full_unwritable_buffer_refuses_more(catalog: Catalog) -> None:
    log = PredictionLog(catalog, flush_seconds=3600, max_buffered_rows=4)
    catalog.drop_table(PREDICTIONS_TABLE)
    catalog.drop_namespace("ml")
    log.add(rows(3))

    assert log.write_buffered_rows() == 0 and log.buffered == 3
    with pytest.raises(ScoringError, match="cannot write"):
        log.add(rows(2, start=3))
    assert log.buffered == 3
