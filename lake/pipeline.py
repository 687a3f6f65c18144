"""A cycle of steps where each step publishes all or nothing, recorded in ``ops.pipeline_runs`` and resumable.

A :class:`Step` names the Iceberg namespaces or tables it publishes to. Before it runs, the runner remembers the
published (``main``) snapshot of each of them; when the step raises, every one of them is put back: ``main``
returns to the remembered snapshot, tables the step created are dropped, and the snapshots it committed that no
branch still needs are expired, so a rerun that looks for its own earlier commits (ingestion's batch ids) does not
find them. Only ``main`` is compared and restored: a write-audit-publish snapshot held back on a table's ``audit``
branch stays there for inspection (its parent is a published snapshot, which is never expired), and the next write
resets that branch anyway. Then the failure is recorded and the cycle stops; the next run starts at the failed
step and records the steps before it as ``resumed-past``.

Cycles on one lake never overlap (:mod:`lake.run_lock`: a second one is refused while one runs). The rollback
assumes the cycle is the only writer of the tables its steps declare: declare exact tables (not a
namespace) next to tables other processes append to, such as a prediction log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.types import DoubleType, IntegerType, LongType, NestedField, StringType, TimestamptzType

from lake.appends import append_rows
from lake.catalog import create_lake_table, manage_snapshots
from lake.errors import LakeforgeError
from lake.run_lock import run_lock
from lake.tables import snapshot_id_as_of

log = logging.getLogger(__name__)

RUNS_TABLE = "ops.pipeline_runs"
RAN, SKIPPED, FAILED, RESUMED_PAST = "ran", "skipped", "failed", "resumed-past"
"""Step statuses: did its work, had nothing to do, raised (and was rolled back), done by an earlier run."""

RUNS_SCHEMA = Schema(
    NestedField(1, "run_id", LongType(), required=True, doc="1, 2, ... in the order runs started."),
    NestedField(2, "step", StringType(), required=True),
    NestedField(3, "position", IntegerType(), required=True, doc="Order of the step in the cycle, from 0."),
    NestedField(4, "status", StringType(), required=True, doc="ran, skipped, failed or resumed-past."),
    NestedField(5, "started_at", TimestamptzType(), required=True),
    NestedField(6, "seconds", DoubleType(), required=True),
    NestedField(7, "rows", LongType(), required=True, doc="Rows the step wrote (its own measure)."),
    NestedField(8, "snapshots", StringType(), required=True, doc="JSON object: table -> snapshot id it published."),
    NestedField(9, "detail", StringType(), required=True, doc="One line: what it did, or why it had nothing to do."),
    NestedField(10, "error", StringType(), required=False, doc="Why it failed."),
    NestedField(11, "done_in_run", LongType(), required=False, doc="resumed-past: the run that did the step."),
)


@dataclass(frozen=True)
class StepOutcome:
    """What a step reports when it returns: whether it did anything, one line about it, and rows written."""

    ran: bool
    detail: str
    rows: int = 0

    @classmethod
    def skipped(cls, reason: str) -> StepOutcome:
        """Nothing to do, and why (one line)."""
        return cls(ran=False, detail=reason)


@dataclass(frozen=True)
class Step:
    """One step of a cycle.

    Attributes:
        name: unique within the cycle; a resumed run finds its failed step by this name.
        publishes: namespaces (``raw``) or tables (``ops.ingest_batches``) the step writes; rolled back if it fails.
        run: does the work; raises to fail the step.
        description: what it does, for the progress line.
    """

    name: str
    publishes: tuple[str, ...]
    run: Callable[[], StepOutcome]
    description: str = ""


@dataclass(frozen=True)
class StepRecord:
    """One row of ``ops.pipeline_runs``."""

    run_id: int
    step: str
    position: int
    status: str
    started_at: datetime
    seconds: float
    rows: int = 0
    snapshots: dict[str, int] = field(default_factory=dict)
    detail: str = ""
    error: str | None = None
    done_in_run: int | None = None


@dataclass(frozen=True)
class PipelineRun:
    """The records of one run, in step order."""

    run_id: int
    records: list[StepRecord]

    @property
    def failed(self) -> StepRecord | None:
        """The step that failed, if one did."""
        return next((record for record in self.records if record.status == FAILED), None)

    @property
    def resumed_from(self) -> int | None:
        """The failed run this run resumed, if it did."""
        return next((record.done_in_run for record in self.records if record.status == RESUMED_PAST), None)

    @property
    def started_at(self) -> datetime:
        """When its first step started."""
        return min(record.started_at for record in self.records)

    @property
    def seconds(self) -> float:
        """Time spent in its steps."""
        return sum(record.seconds for record in self.records)


@dataclass(frozen=True)
class _TableState:
    current: int | None
    snapshots: frozenset[int]


def run_and_record(
    catalog: Catalog,
    steps: Sequence[Step],
    on_start: Callable[[Step], None] | None = None,
    on_record: Callable[[StepRecord], None] | None = None,
    resume: bool = True,
) -> PipelineRun:
    """Run ``steps`` in order, each published whole or rolled back, and append a row per step to ``ops.pipeline_runs``.

    Args:
        catalog: the Iceberg catalog.
        steps: the cycle; names must be unique.
        on_start: called before a step runs (progress display).
        on_record: called with each step's record as soon as it is written.
        resume: when the last run failed, start at its failed step (``False``: start at the first step).

    Returns:
        This run's records. The run stops at the first failed step; a ``KeyboardInterrupt`` is recorded as a
        failure and raised again once the step is rolled back.

    Raises:
        ValueError: two steps share a name.
        PipelineError: another cycle is running on this lake (:mod:`lake.run_lock`).
    """
    names = [step.name for step in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"step names must be unique: {names}")
    with run_lock(catalog):
        return _run_steps(catalog, steps, on_start, on_record, resume)


def _run_steps(
    catalog: Catalog,
    steps: Sequence[Step],
    on_start: Callable[[Step], None] | None,
    on_record: Callable[[StepRecord], None] | None,
    resume: bool,
) -> PipelineRun:
    names = [step.name for step in steps]
    runs = recent_runs(catalog, limit=1)
    last = runs[0] if runs else None
    run_id = last.run_id + 1 if last else 1
    done_in = _resume_point(last, names) if resume else {}
    records: list[StepRecord] = []

    def record(item: StepRecord) -> None:
        append_step_records(catalog, [item])
        records.append(item)
        if on_record is not None:
            on_record(item)

    for position, step in enumerate(steps):
        if step.name in done_in:
            origin = done_in[step.name]
            record(
                StepRecord(
                    run_id,
                    step.name,
                    position,
                    RESUMED_PAST,
                    _now(),
                    0.0,
                    detail=f"done in run {origin}",
                    done_in_run=origin,
                )
            )
            continue
        if on_start is not None:
            on_start(step)
        outcome, interrupt = _run_step(catalog, step, run_id, position)
        record(outcome)
        if interrupt is not None:
            raise interrupt
        if outcome.status == FAILED:
            break
    return PipelineRun(run_id, records)


def _resume_point(last: PipelineRun | None, names: list[str]) -> dict[str, int]:
    """Step name -> run that did it, for the steps before the last run's failed step (empty: start over)."""
    failed = last.failed if last else None
    if last is None or failed is None or failed.step not in names:
        return {}
    done = {record.step: record.done_in_run or last.run_id for record in last.records if record.status != FAILED}
    return {name: done[name] for name in names[: names.index(failed.step)] if name in done}


def _run_step(catalog: Catalog, step: Step, run_id: int, position: int) -> tuple[StepRecord, BaseException | None]:
    """The step's record; a failed step is rolled back first, and an interrupt is handed back to be raised."""
    before = _states(catalog, step.publishes)
    started_at, started = _now(), time.perf_counter()
    try:
        outcome = step.run()
    except BaseException as error:
        restored = _restore(catalog, step.publishes, before)
        if isinstance(error, Exception) and not isinstance(error, LakeforgeError):
            log.error("step %s failed", step.name, exc_info=error)
        failed = StepRecord(
            run_id,
            step.name,
            position,
            FAILED,
            started_at,
            time.perf_counter() - started,
            detail=f"rolled back {len(restored)} table(s)" if restored else "nothing to roll back",
            error=_error_text(error),
        )
        return failed, None if isinstance(error, Exception) else error
    snapshots = {
        name: state.current
        for name, state in _states(catalog, step.publishes).items()
        if state.current is not None and (name not in before or before[name].current != state.current)
    }
    status = RAN if outcome.ran else SKIPPED
    seconds = time.perf_counter() - started
    return StepRecord(
        run_id, step.name, position, status, started_at, seconds, outcome.rows, snapshots, outcome.detail
    ), None


def _error_text(error: BaseException) -> str:
    """A user's mistake as its message; anything else with its type, which says more than the message alone."""
    if isinstance(error, LakeforgeError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC)


def tables_in(catalog: Catalog, scope: Iterable[str]) -> list[str]:
    """The existing tables a scope names: every table of each namespace, and each ``namespace.table`` that exists.

    The run log itself is never part of a scope.
    """
    names: set[str] = set()
    for entry in scope:
        if "." in entry:
            if catalog.table_exists(entry):
                names.add(entry)
            continue
        try:
            names.update(".".join(identifier) for identifier in catalog.list_tables(entry))
        except NoSuchNamespaceError:
            continue
    names.discard(RUNS_TABLE)
    return sorted(names)


def _states(catalog: Catalog, scope: Iterable[str]) -> dict[str, _TableState]:
    states = {}
    for name in tables_in(catalog, scope):
        metadata = catalog.load_table(name).metadata
        states[name] = _TableState(metadata.current_snapshot_id, frozenset(s.snapshot_id for s in metadata.snapshots))
    return states


def _restore(catalog: Catalog, scope: Iterable[str], before: dict[str, _TableState]) -> list[str]:
    """Put every table of ``scope`` back to its state in ``before``; returns the tables that were changed.

    A table absent from ``before`` was created since and is dropped; a table whose ``main`` moved gets its old
    ``main`` back (or none, if it had none); snapshots added since that no branch or tag still reaches are expired.
    """
    restored = []
    for name in tables_in(catalog, scope):
        state = before.get(name)
        if state is None:
            catalog.drop_table(name)
            restored.append(name)
            continue
        table = catalog.load_table(name)
        if table.metadata.current_snapshot_id != state.current:
            manage = manage_snapshots(table)
            if state.current is None:
                manage.remove_branch(MAIN_BRANCH).commit()
            else:
                manage.set_current_snapshot(snapshot_id=state.current).commit()
            restored.append(name)
        _expire_added(table.refresh(), state.snapshots)
    return restored


def _expire_added(table: Table, kept: frozenset[int]) -> None:
    metadata = table.metadata
    reachable = {
        snapshot.snapshot_id
        for ref in metadata.refs.values()
        for snapshot in ancestors_of(metadata.snapshot_by_id(ref.snapshot_id), metadata)
    }
    added = [s.snapshot_id for s in metadata.snapshots if s.snapshot_id not in kept and s.snapshot_id not in reachable]
    if added:
        table.maintenance.expire_snapshots().by_ids(added).commit()


def tables_changed_since(catalog: Catalog, scope: Iterable[str], moment: datetime) -> list[str]:
    """The tables of ``scope`` whose published snapshot is not the one that was published at ``moment``.

    A table created since, or without a snapshot at ``moment``, counts as changed. Reads metadata only.
    """
    changed = []
    for name in tables_in(catalog, scope):
        table = catalog.load_table(name)
        current = table.metadata.current_snapshot_id
        try:
            then = snapshot_id_as_of(table, moment)
        except LakeforgeError:
            then = None
        if current != then:
            changed.append(name)
    return changed


def _runs_table(catalog: Catalog) -> Table:
    return create_lake_table(catalog, RUNS_TABLE, RUNS_SCHEMA)


def append_step_records(catalog: Catalog, records: Iterable[StepRecord]) -> None:
    """Append records to ``ops.pipeline_runs`` (created on first use) in one commit."""
    rows = [{**record.__dict__, "snapshots": json.dumps(record.snapshots, sort_keys=True)} for record in records]
    append_rows(_runs_table(catalog), rows)


def _read_records(catalog: Catalog, row_filter: str | None = None) -> list[StepRecord]:
    try:
        table = catalog.load_table(RUNS_TABLE)
    except NoSuchTableError:
        return []
    rows = (table.scan(row_filter=row_filter) if row_filter else table.scan()).to_arrow().to_pylist()
    records = [StepRecord(**{**row, "snapshots": json.loads(row["snapshots"])}) for row in rows]
    return sorted(records, key=lambda record: (record.run_id, record.position))


def recent_runs(catalog: Catalog, limit: int = 10) -> list[PipelineRun]:
    """The last ``limit`` runs, newest first."""
    records = _read_records(catalog)
    by_run: dict[int, list[StepRecord]] = {}
    for record in records:
        by_run.setdefault(record.run_id, []).append(record)
    return [PipelineRun(run_id, by_run[run_id]) for run_id in sorted(by_run, reverse=True)[:limit]]


def last_ran(catalog: Catalog, step: str) -> StepRecord | None:
    """The latest record of ``step`` with status ``ran`` (its last run that did work and succeeded)."""
    records = _read_records(catalog, f"step = '{step}' AND status = '{RAN}'")
    return records[-1] if records else None
