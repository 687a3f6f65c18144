"""The generic step runner on a real catalog: records, skips, rollback of a failed step, resume at it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from lake.errors import IngestError
from lake.ingest import ingest_path
from lake.materialize import AUDIT_BRANCH, publish_staged_snapshot, write_staged_snapshot
from lake.pipeline import (
    FAILED,
    RAN,
    RESUMED_PAST,
    RUNS_TABLE,
    SKIPPED,
    Step,
    StepOutcome,
    last_ran,
    recent_runs,
    run_and_record,
    tables_changed_since,
)
from lake.settings import Settings
from tests.conftest import arrow_query
from tests.lake.ingest.landing import transactions, write

SCHEMA = pa.schema([("key", pa.string()), ("value", pa.int64())])


def rows(*keys: str, value: int = 1) -> pa.Table:
    return pa.table({"key": list(keys), "value": [value] * len(keys)}, schema=SCHEMA)


def keys(catalog: Catalog, name: str) -> list[str]:
    return sorted(catalog.load_table(name).scan().to_arrow()["key"].to_pylist())


def append(catalog: Catalog, name: str, *new: str) -> StepOutcome:
    catalog.load_table(name).append(rows(*new))
    return StepOutcome(ran=True, detail=f"appended {len(new)}", rows=len(new))


def fail(message: str) -> StepOutcome:
    raise RuntimeError(message)


def test_steps_are_recorded_with_status_rows_snapshots_and_detail(catalog: Catalog) -> None:
    catalog.create_table("staging.events", schema=SCHEMA)
    steps = [
        Step("load", ("staging",), lambda: append(catalog, "staging.events", "a", "b")),
        Step("check", (), lambda: StepOutcome.skipped("nothing new")),
    ]
    started: list[str] = []

    run = run_and_record(catalog, steps, on_start=lambda step: started.append(step.name))

    published = catalog.load_table("staging.events").current_snapshot().snapshot_id
    assert started == ["load", "check"] and run.run_id == 1 and run.failed is None
    load, check = run.records
    assert (load.status, load.rows, load.detail, load.snapshots) == (
        RAN,
        2,
        "appended 2",
        {"staging.events": published},
    )
    assert (check.status, check.rows, check.detail, check.snapshots) == (SKIPPED, 0, "nothing new", {})
    assert load.started_at <= check.started_at and load.seconds >= 0
    stored = catalog.load_table(RUNS_TABLE).scan().to_arrow().sort_by("position").to_pylist()
    assert [(row["run_id"], row["step"], row["status"]) for row in stored] == [(1, "load", RAN), (1, "check", SKIPPED)]
    assert json.loads(stored[0]["snapshots"]) == {"staging.events": published}
    assert recent_runs(catalog)[0] == run

    again = run_and_record(catalog, steps)
    assert again.run_id == 2
    assert [run.run_id for run in recent_runs(catalog)] == [2, 1]
    assert last_ran(catalog, "load").run_id == 2 and last_ran(catalog, "check") is None


def test_a_failed_step_rolls_back_every_table_it_published_and_nothing_else(catalog: Catalog) -> None:
    events = catalog.create_table("staging.events", schema=SCHEMA)
    events.append(rows("a"))
    published = events.current_snapshot().snapshot_id
    catalog.create_table("staging.empty", schema=SCHEMA)
    catalog.create_table("ops.counts", schema=SCHEMA).append(rows("n"))
    catalog.create_table("ops.elsewhere", schema=SCHEMA)

    def step() -> StepOutcome:
        append(catalog, "staging.events", "b")
        append(catalog, "staging.events", "c")
        append(catalog, "staging.empty", "x")
        catalog.create_table("staging.created", schema=SCHEMA).append(rows("y"))
        append(catalog, "ops.counts", "m")
        append(catalog, "ops.elsewhere", "kept")
        return fail("boom")

    run = run_and_record(catalog, [Step("build", ("staging", "ops.counts"), step), Step("after", (), fail)])

    [failed] = run.records
    assert run.failed == failed and failed.status == FAILED
    assert (failed.error, failed.detail) == ("RuntimeError: boom", "rolled back 4 table(s)")
    events = catalog.load_table("staging.events")
    assert events.current_snapshot().snapshot_id == published and keys(catalog, "staging.events") == ["a"]
    assert [snapshot.snapshot_id for snapshot in events.snapshots()] == [published]
    assert catalog.load_table("staging.empty").current_snapshot() is None
    assert not catalog.table_exists("staging.created")
    assert keys(catalog, "ops.counts") == ["n"]
    assert keys(catalog, "ops.elsewhere") == ["kept"]


def test_rollback_keeps_a_held_back_audit_snapshot_and_the_next_build_publishes(catalog: Catalog) -> None:
    """A published model is rolled back; a held-back one keeps its audit branch; both can be built again."""

    def stage(name: str, *new: str) -> int:
        return write_staged_snapshot(catalog, name, *arrow_query(rows(*new)), "append").snapshot_id

    for name in ("curated.published", "curated.held"):
        publish_staged_snapshot(catalog, name, stage(name, "a"))
    before = {
        name: catalog.load_table(name).current_snapshot().snapshot_id for name in ("curated.published", "curated.held")
    }
    staged: dict[str, int] = {}

    def build() -> StepOutcome:
        publish_staged_snapshot(catalog, "curated.published", stage("curated.published", "b"))
        staged["held"] = stage("curated.held", "bad")
        return fail("a test of curated.held failed")

    run_and_record(catalog, [Step("transform", ("curated",), build)])

    held = catalog.load_table("curated.held")
    assert {name: catalog.load_table(name).current_snapshot().snapshot_id for name in before} == before
    assert held.metadata.refs[AUDIT_BRANCH].snapshot_id == staged["held"]
    assert held.snapshot_by_id(staged["held"]).parent_snapshot_id == before["curated.held"]
    for name in before:
        publish_staged_snapshot(catalog, name, stage(name, "c"))
        assert keys(catalog, name) == ["a", "c"]


def test_the_next_run_resumes_at_the_failed_step(catalog: Catalog) -> None:
    calls: list[str] = []
    broken = {"second": True, "third": True}

    def step(name: str) -> Step:
        def work() -> StepOutcome:
            calls.append(name)
            if broken.get(name):
                raise RuntimeError(f"{name} broke")
            return StepOutcome(ran=True, detail=f"{name} done")

        return Step(name, (), work)

    steps = [step("first"), step("second"), step("third")]

    first = run_and_record(catalog, steps)
    broken["second"] = False
    second = run_and_record(catalog, steps)
    broken["third"] = False
    third = run_and_record(catalog, steps)
    fourth = run_and_record(catalog, steps)

    assert calls == ["first", "second", "second", "third", "third", "first", "second", "third"]
    assert [(r.step, r.status) for r in first.records] == [("first", RAN), ("second", FAILED)]
    assert [(r.step, r.status, r.detail) for r in second.records] == [
        ("first", RESUMED_PAST, "done in run 1"),
        ("second", RAN, "second done"),
        ("third", FAILED, "nothing to roll back"),
    ]
    assert [(r.step, r.status, r.done_in_run) for r in third.records] == [
        ("first", RESUMED_PAST, 1),
        ("second", RESUMED_PAST, 2),
        ("third", RAN, None),
    ]
    assert (second.resumed_from, third.resumed_from, fourth.resumed_from) == (1, 1, None)
    assert [r.status for r in fourth.records] == [RAN, RAN, RAN]

    broken["second"] = True
    assert run_and_record(catalog, steps).failed.step == "second"
    broken["second"] = False
    restarted = run_and_record(catalog, steps, resume=False)
    assert [r.status for r in restarted.records] == [RAN, RAN, RAN] and calls[-3:] == ["first", "second", "third"]


def test_an_interrupt_is_rolled_back_recorded_and_raised(catalog: Catalog) -> None:
    catalog.create_table("raw.events", schema=SCHEMA)

    def interrupted() -> StepOutcome:
        append(catalog, "raw.events", "a")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_and_record(catalog, [Step("ingest", ("raw",), interrupted)])

    assert catalog.load_table("raw.events").current_snapshot() is None
    [run] = recent_runs(catalog)
    assert [(r.step, r.status, r.error) for r in run.records] == [("ingest", FAILED, "KeyboardInterrupt")]


def test_ingestion_rolled_back_with_its_bookkeeping_lands_again(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    """Rolled-back batches are forgotten: the next run ingests the good file again instead of skipping it."""
    landing = tmp_path / "landing"
    write(transactions(5), landing / "transactions-a.parquet")
    (landing / "transactions-b.jsonl").write_text('{"transaction_id": "t9", "card_')

    def ingest() -> StepOutcome:
        report = ingest_path(landing, settings=settings)
        if report.rejected:
            raise IngestError(f"{len(report.rejected)} file(s) rejected")
        return StepOutcome(ran=True, detail="ingested", rows=report.rows_appended)

    steps = [Step("ingest", ("raw", "ops.ingest_batches"), ingest)]
    failed = run_and_record(catalog, steps)

    assert failed.failed is not None and failed.failed.error == "1 file(s) rejected"
    assert not catalog.table_exists("raw.transactions") and not catalog.table_exists("ops.ingest_batches")

    (landing / "transactions-b.jsonl").unlink()
    resumed = run_and_record(catalog, steps)

    assert [(r.status, r.rows) for r in resumed.records] == [(RAN, 5)]
    assert catalog.load_table("raw.transactions").scan().to_arrow().num_rows == 5
    assert catalog.load_table("ops.ingest_batches").scan().to_arrow()["status"].to_pylist() == ["ingested"]


def test_tables_changed_since_compares_published_snapshots(catalog: Catalog) -> None:
    catalog.create_table("raw.a", schema=SCHEMA).append(rows("x"))
    catalog.create_table("raw.b", schema=SCHEMA).append(rows("y"))
    moment = datetime.now(UTC)

    assert tables_changed_since(catalog, ("raw",), moment) == []
    append(catalog, "raw.b", "z")
    catalog.create_table("raw.c", schema=SCHEMA).append(rows("w"))
    assert tables_changed_since(catalog, ("raw",), moment) == ["raw.b", "raw.c"]
    assert tables_changed_since(catalog, ("raw.a", "missing.table"), moment) == []
