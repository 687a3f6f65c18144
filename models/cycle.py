"""The fraud platform's operated cycle (``lakeforge run``): ingest, transform, features, drift, train.

Each step is composed from the function that owns the work and is skipped, with its reason, when it has nothing
to do; :mod:`lake.pipeline` runs them, rolls a failed step back and resumes at it next time. The cycle's clock is
data time: the newest ``transaction_at`` in ``raw.transactions`` (or ``as_of``), which is where materialization
ends, where drift's window of recent predictions ends, and the training cutoff.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pyiceberg.catalog import Catalog
from rich.console import Console
from rich.markup import escape

from lake.catalog import load_catalog
from lake.dbt_runner import MODEL_NAMESPACES, published_by, run_dbt
from lake.errors import IngestError, ModelsError, TransformError
from lake.feast.environment import apply_feature_repo, open_feature_store
from lake.feast.materialization import materialize_incremental_views
from lake.ingest import SKIPPED, ingest_path
from lake.ingest.bookkeeping import BATCHES_TABLE
from lake.pipeline import (
    FAILED,
    RAN,
    RESUMED_PAST,
    PipelineRun,
    Step,
    StepOutcome,
    StepRecord,
    last_ran,
    run_and_record,
    tables_changed_since,
    tables_in,
)
from lake.settings import Settings, get_settings
from models.drift import DRIFT_TABLE, check_drift
from models.registry import ALIASES_TABLE, VERSIONS_TABLE, get_model_version, resolve_alias
from models.training_run import metrics_line, train_and_register
from models.training_set import TRANSACTIONS_TABLE

CLOCK_TABLE, CLOCK_COLUMN = "raw.transactions", "transaction_at"
"""The lake's clock: the newest event time of this raw table."""
NO_CHAMPION = "no champion yet"


@dataclass(frozen=True)
class CycleReport:
    """One cycle: its recorded steps, the data time it ran at, and the landing folder it read.

    Attributes:
        run: the run's records in ``ops.pipeline_runs`` (one per step reached).
        as_of: the lake's clock as used by the cycle (None when no step needed it).
        landing: the folder the ingest step read.
    """

    run: PipelineRun
    as_of: datetime | None
    landing: Path

    @property
    def run_id(self) -> int:
        """The run's id in ``ops.pipeline_runs``."""
        return self.run.run_id

    @property
    def records(self) -> list[StepRecord]:
        """One record per step reached, in order."""
        return self.run.records

    @property
    def failed(self) -> StepRecord | None:
        """The failed step, if any (the next cycle resumes there)."""
        return self.run.failed

    @property
    def ok(self) -> bool:
        """True when no step failed."""
        return self.run.failed is None

    def step(self, name: str) -> StepRecord:
        """The record of one step.

        Raises:
            KeyError: the cycle did not reach that step.
        """
        for record in self.run.records:
            if record.step == name:
                return record
        raise KeyError(f"run {self.run_id} has no record of step {name!r}")


def lake_clock(catalog: Catalog) -> datetime:
    """The newest ``transaction_at`` in ``raw.transactions``, from the data files' column bounds (no scan).

    Raises:
        ModelsError: there are no transactions yet.
    """
    if not catalog.table_exists(CLOCK_TABLE):
        raise ModelsError(f"{CLOCK_TABLE} does not exist yet, so the lake has no clock; land transactions first")
    metrics = catalog.load_table(CLOCK_TABLE).inspect.files().column("readable_metrics").to_pylist()
    bounds = [metric[CLOCK_COLUMN]["upper_bound"] for metric in metrics if metric[CLOCK_COLUMN]["upper_bound"]]
    if not bounds:
        raise ModelsError(f"{CLOCK_TABLE} holds no transactions yet, so the lake has no clock; land some first")
    return max(bounds)


def _landing_files(landing: Path) -> bool:
    return landing.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in landing.rglob("*"))


class _Cycle:
    """The steps of one cycle and what they share: the clock, and drift's verdict for the train step."""

    def __init__(
        self, settings: Settings, landing: Path, as_of: datetime | None, console: Console, workers: int
    ) -> None:
        self.settings, self.landing, self.console, self.workers = settings, landing, console, workers
        self.catalog = load_catalog(settings)
        self.as_of = as_of
        self.drift: tuple[bool, str] | None = None

    def steps(self) -> list[Step]:
        return [
            Step("ingest", ("raw", BATCHES_TABLE), self.ingest, f"new landing files in {self.landing}"),
            Step("transform", MODEL_NAMESPACES, self.transform, "dbt build (incremental)"),
            Step("features", (), self.features, "apply the Feast repo, materialize online up to the lake's clock"),
            Step("drift", (DRIFT_TABLE,), self.check_drift, "the champion's recent predictions against its training"),
            Step("train", (VERSIONS_TABLE, ALIASES_TABLE), self.train, "retrain when due, promote if better"),
        ]

    def clock(self) -> datetime:
        if self.as_of is None:
            self.as_of = lake_clock(self.catalog)
        return self.as_of

    def ingest(self) -> StepOutcome:
        nothing = StepOutcome.skipped(f"no new files in {self.landing}")
        if not _landing_files(self.landing):
            return nothing
        report = ingest_path(self.landing, settings=self.settings, progress=self.console.is_terminal)
        new = [batch for batch in report.batches if batch.status != SKIPPED]
        if not new:
            return nothing
        if report.rejected:
            reasons = "; ".join(
                f"{Path(batch.source_file).name}: {batch.rejection_reason}" for batch in report.rejected
            )
            raise IngestError(
                f"{len(report.rejected)} landing file(s) rejected ({reasons}); fix or remove them in {self.landing}"
            )
        return StepOutcome(
            True,
            f"{len(new)} new file(s): {report.rows_appended:,} rows appended, {report.rows_quarantined:,} quarantined",
            report.rows_appended,
        )

    def nothing_new(self, step: str, inputs: str, label: str) -> StepOutcome | None:
        """A skip when the ``inputs`` namespace is empty or has no snapshot since ``step`` last ran, else None."""
        if not tables_in(self.catalog, (inputs,)):
            return StepOutcome.skipped(f"no {label} yet")
        last = last_ran(self.catalog, step)
        if last is not None and not tables_changed_since(self.catalog, (inputs,), last.started_at):
            return StepOutcome.skipped(f"{label} unchanged since run {last.run_id}")
        return None

    def transform(self) -> StepOutcome:
        if skip := self.nothing_new("transform", "raw", "raw tables"):
            return skip
        run = run_dbt(["build", "--quiet"])
        if not run.success:
            raise TransformError(f"dbt build failed: {run.failures() or 'see its log above'}")
        published = published_by(self.catalog, run.invocation_id)
        rows = sum(table.rows_added for table in published)
        return StepOutcome(True, f"dbt build: {len(published)} table(s) published, {rows:,} rows written", rows)

    def features(self) -> StepOutcome:
        if skip := self.nothing_new("features", "features", "feature tables"):
            return skip
        with redirect_stdout(io.StringIO()):  # apply prints every changed object as protobuf text
            apply_feature_repo(self.settings)
        end = self.clock()
        ranges = materialize_incremental_views(open_feature_store(self.settings), end)
        rows = sum(view.rows for view in ranges)
        return StepOutcome(
            True, f"{len(ranges)} view(s) materialized up to {end:%Y-%m-%d %H:%M}: {rows:,} entities", rows
        )

    def check_drift(self) -> StepOutcome:
        if resolve_alias("champion", self.settings) is None:
            self.drift = (True, NO_CHAMPION)
            return StepOutcome.skipped(NO_CHAMPION)
        report = check_drift(self.settings, self.clock())
        self.drift = (report.retrain_due, report.reason)
        if report.run_id is None:
            return StepOutcome.skipped(f"not judged: {report.reason}")
        return StepOutcome(True, report.reason, report.prediction_count)

    def retrain_due(self) -> tuple[bool, str]:
        """Whether to train, and why: no champion, drift, or a champion older than ``retrain_every_days``."""
        champion = resolve_alias("champion", self.settings)
        if champion is None:
            return True, NO_CHAMPION
        if self.drift is None:
            return True, "resuming the training that failed"
        if self.drift[0]:
            return True, f"drift: {self.drift[1]}"
        cutoff = datetime.fromisoformat(get_model_version(champion, settings=self.settings).lineage["cutoff"])
        age, every = (self.clock() - cutoff) / timedelta(days=1), self.settings.pipeline.retrain_every_days
        aged = f"champion v{champion} is {age:.1f} days old in data time (retrain every {every:g})"
        return (True, aged) if age >= every else (False, f"{aged} and drift calls for none")

    def train(self) -> StepOutcome:
        if not self.catalog.table_exists(TRANSACTIONS_TABLE):
            return StepOutcome.skipped(f"nothing to train on: no {TRANSACTIONS_TABLE} yet")
        due, why = self.retrain_due()
        if not due:
            return StepOutcome.skipped(why)
        outcome = train_and_register(
            cutoff=self.clock(),
            maturity=timedelta(days=self.settings.pipeline.label_maturity_days),
            workers=self.workers,
            settings=self.settings,
            console=self.console,
        )
        mv, decision = outcome.model_version, outcome.decision
        self.console.print(f"v{mv.version}: {metrics_line(mv.metrics)}\nreport: {outcome.report_uri}", highlight=False)
        detail = f"v{mv.version} is {decision.alias}: {decision.reason}"
        if why != NO_CHAMPION:  # the gate's reason says it already
            detail = f"retrained because {why}; {detail}"
        if decision.alias == "champion":
            detail += f"; scoring services switch to v{mv.version} within a few seconds"
        return StepOutcome(True, detail, int(mv.lineage["row_count"]))

    def announce(self, step: Step) -> None:
        self.console.print(f"[bold cyan]>[/] [bold]{step.name}[/]: {escape(step.description)}", highlight=False)

    def report(self, record: StepRecord) -> None:
        if record.status == RESUMED_PAST:
            line = f"[bold cyan]>[/] [bold]{record.step}[/]: resumed past ({record.detail})"
        elif record.status == FAILED:
            line = f"  [bold red]failed[/] after {record.seconds:.1f} s: {escape(record.error or '')}"
        elif record.status == RAN:
            line = f"  [green]ran[/] in {record.seconds:.1f} s: {escape(record.detail)}"
        else:
            line = f"  [yellow]skipped[/]: {escape(record.detail)}"
        self.console.print(line, highlight=False, soft_wrap=True)


def run_cycle(
    settings: Settings | None = None,
    landing: Path | None = None,
    as_of: datetime | None = None,
    console: Console | None = None,
    workers: int = 2,
    *,
    resume: bool = True,
) -> CycleReport:
    """Run one cycle: ingest new landing files, dbt build, materialize, check drift, retrain when due.

    A failed step is rolled back and stops the cycle; the next cycle starts at it (see :mod:`lake.pipeline`).

    Args:
        settings: settings to use; default: the process settings.
        landing: folder of new landing files; default: the data home's ``landing/``.
        as_of: the lake's clock (aware); default: the newest ``transaction_at`` in ``raw.transactions``.
        console: where a line per step goes.
        workers: Ray Train workers of a retrain.
        resume: when the last cycle failed, start at its failed step (``False``: start at the first step).

    Returns:
        The recorded steps (check :attr:`CycleReport.failed`: a failed step does not raise).

    Raises:
        ModelsError: ``as_of`` has no time zone.
    """
    if as_of is not None and as_of.tzinfo is None:
        raise ModelsError(f"as_of {as_of.isoformat()} has no time zone; pass an aware time such as ...+00:00")
    settings = settings or get_settings()
    cycle = _Cycle(settings, landing or settings.landing_dir, as_of, console or Console(stderr=True), workers)
    run = run_and_record(cycle.catalog, cycle.steps(), on_start=cycle.announce, on_record=cycle.report, resume=resume)
    return CycleReport(run, cycle.as_of, cycle.landing)
