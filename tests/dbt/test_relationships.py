"""`relationships` on an incremental build whose parent was written incrementally too: a new child row is looked
up first among the parent's new rows, then in the whole parent, and one with no parent at all still fails. A
last build with no new data shows an incremental model whose input did not change writing nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pyiceberg.expressions import EqualTo

from tests.dbt.conftest import START, DbtLake, append_raw, chargebacks_of_day, land_days, transactions_of_day

NEW_DAY = 2
TEST = "relationships_stg_payments__chargebacks_transaction_id__transaction_id__ref_stg_payments__transactions_"
SELECT = ("--select", "path:models/staging")
ORPHAN = "cb-orphan"


def _chargeback(chargeback_id: str, transaction_id: str) -> dict[str, Any]:
    return {
        "chargeback_id": chargeback_id,
        "transaction_id": transaction_id,
        "reason_code": "fraud_card_absent",
        "amount_cents": 500,
        "reported_at": START + timedelta(days=NEW_DAY, hours=18),
    }


def _test_result(run: Any) -> Any:
    (result,) = [r for r in run.result.result.results if r.node.name == TEST]
    return result


@pytest.fixture(scope="module")
def runs(dbt_lake: DbtLake) -> tuple[Any, Any, Any]:
    land_days(dbt_lake.catalog, range(NEW_DAY))
    assert dbt_lake.dbt("build", *SELECT).success
    new_transactions = transactions_of_day(NEW_DAY)
    append_raw(dbt_lake.catalog, "transactions", new_transactions)
    append_raw(
        dbt_lake.catalog,
        "chargebacks",
        [
            *chargebacks_of_day(NEW_DAY),  # against published transactions of the day before
            _chargeback("cb-new-parent", new_transactions[0]["transaction_id"]),  # against a transaction just added
            _chargeback(ORPHAN, "tx-never-seen"),
        ],
    )
    orphaned = dbt_lake.dbt("build", *SELECT)
    dbt_lake.catalog.load_table("raw.chargebacks").delete(EqualTo("chargeback_id", ORPHAN))
    next_day = transactions_of_day(NEW_DAY + 1)
    append_raw(dbt_lake.catalog, "transactions", next_day)
    append_raw(dbt_lake.catalog, "chargebacks", [_chargeback("cb-next-day", next_day[0]["transaction_id"])])
    fixed = dbt_lake.dbt("build", *SELECT)
    return orphaned, fixed, dbt_lake.dbt("build", *SELECT)


def test_a_child_row_without_parent_fails_the_test(runs: tuple[Any, Any, Any]) -> None:
    orphaned, _, _ = runs
    result = _test_result(orphaned)
    assert str(result.status) == "fail"
    assert result.failures == 1
    assert "semi join unresolved" in result.node.compiled_code  # looked up in the parent's new rows first


def test_children_of_new_and_of_published_parents_pass(runs: tuple[Any, Any, Any]) -> None:
    _, fixed, _ = runs
    assert fixed.success
    result = _test_result(fixed)
    assert str(result.status) == "pass"
    assert "semi join unresolved" in result.node.compiled_code


def test_a_model_whose_input_did_not_change_writes_no_row(runs: tuple[Any, Any, Any], dbt_lake: DbtLake) -> None:
    unchanged = runs[2]
    assert unchanged.success
    table = dbt_lake.catalog.load_table("staging.stg_payments__transactions")
    summary = table.current_snapshot().summary
    assert summary["dbt.invocation-id"] == unchanged.invocation_id  # raw.transactions unchanged since the last build
    assert int(summary.get("added-records") or 0) == 0 and int(summary.get("deleted-records") or 0) == 0
