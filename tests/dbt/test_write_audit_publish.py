"""Write-audit-publish: a build whose tests fail leaves what readers see exactly as it was.

The failing builds are incremental, so the tests of their incremental models read only the rows they added:
they must still catch a new key that collides with a row published before, and a bad value among the new rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.expressions import And, BooleanExpression, EqualTo, GreaterThanOrEqual

from lake.dbt_runner import DbtRun
from lake.materialize import AUDIT_BRANCH
from tests.dbt.conftest import START, DbtLake, append_raw, land_days, transactions_of_day

GUARDED = ("staging.stg_payments__transactions", "curated.fct_transactions", "features.card_features")
NEW_DAY = 2
PUBLISHED_ID = transactions_of_day(0)[1]["transaction_id"]
"""A key the first build published."""
BAD_ID = "tx-planted-bad"


@dataclass(frozen=True)
class Plant:
    """One bad raw row of the new day, how to find it again, and the test that must catch it."""

    changes: dict[str, str]
    found_by: BooleanExpression
    caught_by: str


PLANTS = {
    "published key again": Plant(
        {"transaction_id": PUBLISHED_ID},
        And(
            EqualTo("transaction_id", PUBLISHED_ID),
            GreaterThanOrEqual("transaction_at", (START + timedelta(days=NEW_DAY)).isoformat()),
        ),
        "unique_stg_payments__transactions_transaction_id",
    ),
    "bad value": Plant(
        {"transaction_id": BAD_ID, "currency": "XXX"},
        EqualTo("transaction_id", BAD_ID),
        "accepted_values_stg_payments__transactions_currency__EUR__USD__GBP",
    ),
}


@dataclass
class Attempt:
    """A build over one planted row: its run, and the published snapshots and contents right after it."""

    run: DbtRun
    snapshots: dict[str, int]
    contents: dict[str, pa.Table]


@dataclass
class PlantedRuns:
    """A published build, one failed build per plant (each removed after), then a passing build."""

    lake: DbtLake
    published: dict[str, int]
    contents: dict[str, pa.Table]
    attempts: dict[str, Attempt]
    fixed: DbtRun


def _published(lake: DbtLake) -> tuple[dict[str, int], dict[str, pa.Table]]:
    snapshots = {name: lake.catalog.load_table(name).current_snapshot().snapshot_id for name in GUARDED}
    return snapshots, {name: lake.read(name) for name in GUARDED}


@pytest.fixture(scope="module")
def planted(dbt_lake: DbtLake) -> PlantedRuns:
    land_days(dbt_lake.catalog, range(NEW_DAY))
    assert dbt_lake.dbt("build").success
    published, contents = _published(dbt_lake)

    template, *new_day = transactions_of_day(NEW_DAY)
    append_raw(dbt_lake.catalog, "transactions", new_day)
    attempts = {}
    for name, plant in PLANTS.items():
        append_raw(dbt_lake.catalog, "transactions", [template | plant.changes])
        run = dbt_lake.dbt("build")
        attempts[name] = Attempt(run, *_published(dbt_lake))
        dbt_lake.catalog.load_table("raw.transactions").delete(plant.found_by)
    fixed = dbt_lake.dbt("build")
    return PlantedRuns(dbt_lake, published, contents, attempts, fixed)


def _results(run: DbtRun) -> dict[str, Any]:
    """dbt's result of each node of ``run``, by node name."""
    return {result.node.name: result for result in run.result.result.results}  # type: ignore[union-attr]


@pytest.mark.parametrize("plant", PLANTS)
def test_the_failing_test_is_reported(planted: PlantedRuns, plant: str) -> None:
    run = planted.attempts[plant].run
    assert not run.success
    results = _results(run)
    failing = [name for name, result in results.items() if str(result.status) == "fail"]
    assert failing == [PLANTS[plant].caught_by]
    assert str(results["fct_transactions"].status) == "skipped"


@pytest.mark.parametrize("plant", PLANTS)
def test_the_failing_test_read_only_the_new_rows(planted: PlantedRuns, plant: str) -> None:
    failing = _results(planted.attempts[plant].run)[PLANTS[plant].caught_by]
    assert "read_parquet(" in failing.node.compiled_code


@pytest.mark.parametrize("plant", PLANTS)
def test_published_tables_do_not_change_when_tests_fail(planted: PlantedRuns, plant: str) -> None:
    attempt = planted.attempts[plant]
    assert attempt.snapshots == planted.published
    for name in GUARDED:
        assert attempt.contents[name].equals(planted.contents[name]), name


@pytest.mark.parametrize("plant", PLANTS)
def test_the_rejected_write_stays_staged(planted: PlantedRuns, plant: str) -> None:
    history = planted.lake.catalog.load_table(GUARDED[0])
    invocation = planted.attempts[plant].run.invocation_id
    rejected = [snapshot for snapshot in history.snapshots() if snapshot.summary["dbt.invocation-id"] == invocation]
    assert len(rejected) == 1
    assert rejected[0].parent_snapshot_id == planted.published[GUARDED[0]]
    rows = history.scan(snapshot_id=rejected[0].snapshot_id, row_filter=PLANTS[plant].found_by)
    assert rows.to_arrow().num_rows == 1


def test_a_passing_build_publishes_again(planted: PlantedRuns) -> None:
    assert planted.fixed.success
    for name in GUARDED:
        table = planted.lake.catalog.load_table(name)
        assert table.current_snapshot().summary["dbt.invocation-id"] == planted.fixed.invocation_id
        assert AUDIT_BRANCH not in table.metadata.refs
    published = planted.lake.read(GUARDED[0])
    assert BAD_ID not in published["transaction_id"].to_pylist()
    assert published["transaction_id"].to_pylist().count(PUBLISHED_ID) == 1
    assert published.num_rows > planted.contents[GUARDED[0]].num_rows


def test_the_publish_step_names_what_it_held_back(planted: PlantedRuns) -> None:
    log = (planted.lake.work / "logs" / "dbt.log").read_text()
    staged, skipped = GUARDED[0], GUARDED[1]
    assert log.count(f"lake: HELD BACK {staged} (its tests failed") == len(PLANTS)
    assert log.count(f"lake: published {staged} at snapshot") == 2  # the first build and the fixed one
    assert f"lake: HELD BACK {skipped}" not in log  # skipped after the failure, so never written
