"""Write-audit-publish: a build whose tests fail leaves what readers see exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo

from lake.dbt_runner import DbtRun
from lake.materialize import AUDIT_BRANCH
from tests.dbt.conftest import DbtLake, append_raw, land_days, transactions_of_day

GUARDED = ("staging.stg_payments__transactions", "curated.fct_transactions", "features.card_features")
BAD_ID = "tx-planted-bad"


@dataclass
class PlantedRun:
    """A published build, then a build over a planted bad row, then a build after the row was removed."""

    lake: DbtLake
    published: dict[str, int]
    contents: dict[str, pa.Table]
    failed: DbtRun
    after_failed: dict[str, int]
    contents_after_failed: dict[str, pa.Table]
    fixed: DbtRun


@pytest.fixture(scope="module")
def planted(dbt_lake: DbtLake) -> PlantedRun:
    land_days(dbt_lake.catalog, range(2))
    assert dbt_lake.dbt("build").success
    published = {name: dbt_lake.catalog.load_table(name).current_snapshot().snapshot_id for name in GUARDED}
    contents = {name: dbt_lake.read(name) for name in GUARDED}

    good, *rest = transactions_of_day(2)
    append_raw(dbt_lake.catalog, "transactions", [*rest, good | {"transaction_id": BAD_ID, "currency": "XXX"}])
    failed = dbt_lake.dbt("build")
    after_failed = {name: dbt_lake.catalog.load_table(name).current_snapshot().snapshot_id for name in GUARDED}
    contents_after_failed = {name: dbt_lake.read(name) for name in GUARDED}

    dbt_lake.catalog.load_table("raw.transactions").delete(EqualTo("transaction_id", BAD_ID))
    fixed = dbt_lake.dbt("build")
    return PlantedRun(dbt_lake, published, contents, failed, after_failed, contents_after_failed, fixed)


def _statuses(run: DbtRun) -> dict[str, str]:
    return {result.node.name: str(result.status) for result in run.result.result.results}  # type: ignore[union-attr]


def test_the_failing_test_is_reported(planted: PlantedRun) -> None:
    assert not planted.failed.success
    statuses = _statuses(planted.failed)
    failing = [name for name, status in statuses.items() if status == "fail"]
    assert failing == ["accepted_values_stg_payments__transactions_currency__EUR__USD__GBP"]
    assert statuses["fct_transactions"] == "skipped"


def test_published_tables_do_not_change_when_tests_fail(planted: PlantedRun) -> None:
    assert planted.after_failed == planted.published
    for name in GUARDED:
        assert planted.contents_after_failed[name].equals(planted.contents[name]), name


def test_the_rejected_write_stays_on_the_audit_branch(planted: PlantedRun) -> None:
    history = planted.lake.catalog.load_table(GUARDED[0])
    rejected = [
        snapshot
        for snapshot in history.snapshots()
        if snapshot.summary["dbt.invocation-id"] == planted.failed.invocation_id
    ]
    assert len(rejected) == 1
    assert rejected[0].parent_snapshot_id == planted.published[GUARDED[0]]
    rows = history.scan(snapshot_id=rejected[0].snapshot_id, row_filter=EqualTo("transaction_id", BAD_ID))
    assert rows.to_arrow().num_rows == 1


def test_a_passing_build_publishes_again(planted: PlantedRun) -> None:
    assert planted.fixed.success
    for name in GUARDED:
        table = planted.lake.catalog.load_table(name)
        assert table.current_snapshot().summary["dbt.invocation-id"] == planted.fixed.invocation_id
        assert AUDIT_BRANCH not in table.metadata.refs
    published = planted.lake.read(GUARDED[0])
    assert BAD_ID not in published["transaction_id"].to_pylist()
    assert published.num_rows > planted.contents[GUARDED[0]].num_rows
