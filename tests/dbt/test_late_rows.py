"""A transaction that lands after its day was built (a late row) is featurized by the next incremental build.

Days 0-2 are built; then day 3 lands together with a transaction of day 1. The incremental build gives the
late row its card features, the values a full rebuild gives it, and rebuilds the merchant features from day 1
on, so they equal a full rebuild's; no transaction is left without its feature row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.dbt.conftest import START, DbtLake, append_raw, land_days, transactions_of_day

LATE_ID = "tx-late"


@dataclass
class LateRuns:
    """Published tables after the incremental build and after a full rebuild, and the card features' last
    snapshot summary of the incremental build."""

    incremental: dict[str, pa.Table]
    rebuild: dict[str, pa.Table]
    card_features_summary: dict[str, str]


def _late_transaction() -> dict[str, object]:
    """A transaction of day 1, at 13:00, landing with day 3."""
    return {
        **transactions_of_day(1)[0],
        "transaction_id": LATE_ID,
        "transaction_at": START + timedelta(days=1, hours=13),
    }


def _published(lake: DbtLake) -> dict[str, pa.Table]:
    return {
        name: lake.read(name)
        for name in ("curated.fct_transactions", "features.card_features", "features.merchant_features")
    }


@pytest.fixture(scope="module")
def runs(dbt_lake: DbtLake) -> LateRuns:
    land_days(dbt_lake.catalog, range(3))
    assert dbt_lake.dbt("build").success
    land_days(dbt_lake.catalog, range(3, 4))
    append_raw(dbt_lake.catalog, "transactions", [_late_transaction()])
    assert dbt_lake.dbt("build").success
    incremental = _published(dbt_lake)
    summary = dbt_lake.catalog.load_table("features.card_features").current_snapshot().summary
    assert dbt_lake.dbt("build", "--full-refresh").success
    return LateRuns(
        incremental=incremental,
        rebuild=_published(dbt_lake),
        card_features_summary={"operation": summary.operation.value, **summary.additional_properties},
    )


def test_every_transaction_has_card_features_after_a_late_row(runs: LateRuns) -> None:
    transactions = runs.incremental["curated.fct_transactions"].column("transaction_id")
    featurized = runs.incremental["features.card_features"].column("transaction_id")
    assert LATE_ID in transactions.to_pylist()
    assert sorted(featurized.to_pylist()) == sorted(transactions.to_pylist())


def test_the_late_row_is_appended_with_the_features_a_rebuild_gives_it(runs: LateRuns) -> None:
    assert runs.card_features_summary["operation"] == "append"
    assert int(runs.card_features_summary["added-records"]) == len(transactions_of_day(3)) + 1

    def late_row(table: pa.Table) -> list[dict[str, object]]:
        return table.filter(pc.equal(table.column("transaction_id"), LATE_ID)).to_pylist()

    assert late_row(runs.incremental["features.card_features"]) == late_row(runs.rebuild["features.card_features"])
    assert len(late_row(runs.incremental["features.card_features"])) == 1


def test_merchant_features_are_rebuilt_from_the_late_rows_day(runs: LateRuns) -> None:
    assert runs.incremental["features.merchant_features"].equals(runs.rebuild["features.merchant_features"])
