"""One cycle at a time per lake, on the embedded (SQLite) and the cluster (PostgreSQL) catalog."""

from __future__ import annotations

import pytest
from pyiceberg.catalog import Catalog

from lake.errors import PipelineError
from lake.pipeline import Step, StepOutcome, recent_runs, run_and_record
from lake.run_lock import run_lock

STEP = Step("noop", (), lambda: StepOutcome(ran=True, detail="nothing to do"))


@pytest.mark.parametrize("catalog_fixture", ["catalog", "cluster_catalog"])
def test_a_cycle_is_refused_while_another_holds_the_lake(request: pytest.FixtureRequest, catalog_fixture: str) -> None:
    catalog: Catalog = request.getfixturevalue(catalog_fixture)

    with run_lock(catalog):  # a second connection or open file: what another process would hold
        with pytest.raises(PipelineError, match="another 'lakeforge run' or 'lakeforge transform' is in progress"):
            run_and_record(catalog, [STEP])
        assert recent_runs(catalog) == []

    first = run_and_record(catalog, [STEP])
    second = run_and_record(catalog, [STEP])

    assert [run.run_id for run in (first, second)] == [1, 2]
    assert [record.detail for record in first.records] == ["nothing to do"]


def test_the_lock_is_released_when_a_cycle_fails(catalog: Catalog) -> None:
    def boom() -> StepOutcome:
        raise RuntimeError("boom")

    assert run_and_record(catalog, [Step("boom", (), boom)]).failed is not None
    with run_lock(catalog):
        pass
