"""One training run end to end: training set from Feast, Ray training, evaluation, registry, champion gate.

This is what ``lakeforge train`` calls. ``reproduce=VERSION`` rebuilds that version's training set from its
recorded snapshots, checks the content hash, and trains again with its recorded parameters.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import xgboost
from rich.console import Console

from lake.errors import ModelsError
from lake.settings import Settings, get_settings
from models.drift import write_reference_profile
from models.evaluate import choose_thresholds, evaluate_scores
from models.lineage import DBT_MANIFEST, file_sha256, git_commit, library_versions
from models.plots import write_evaluation_plots
from models.promotion import DEFAULT_MARGIN, PromotionDecision, decide_promotion
from models.registry import (
    FEATURE_SERVICE,
    ModelVersion,
    get_model_version,
    promote_model_version,
    register_model_version,
    write_artifact,
)
from models.report import render_report
from models.rules_baseline import RulesBaseline
from models.train import BoostingPlan, TrainedModel, train_booster
from models.training_set import (
    LABEL,
    TrainingSet,
    describe_periods,
    fetch_training_set,
    rebuild_training_set,
    split_by_time,
)

REPORT_FILE = "report.md"


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training run produced.

    Attributes:
        model_version: the registered version (with its alias after the gate).
        decision: the alias it got and why.
        report_uri: where its Markdown report is.
    """

    model_version: ModelVersion
    decision: PromotionDecision
    report_uri: str


def _scores(booster: xgboost.Booster, frame: Any, features: list[str]) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(frame[features].to_numpy(np.float32), feature_names=features))


def _training_inputs(
    cutoff: datetime | None, maturity: timedelta, reproduce: int | None, settings: Settings, console: Console
) -> tuple[TrainingSet, dict[str, Any], BoostingPlan]:
    """The training set and parameters: fresh from Feast, or rebuilt and verified for a recorded version."""
    if reproduce is None:
        cutoff = cutoff or datetime.now(UTC)
        console.print(f"reading the training set of {FEATURE_SERVICE} through Feast (labels known at {cutoff})")
        return fetch_training_set(cutoff, maturity, settings), {}, BoostingPlan()
    if cutoff is not None:
        raise ModelsError("--cutoff and --reproduce exclude each other: a reproduction uses the recorded cutoff")
    recorded = get_model_version(reproduce, settings=settings)
    lineage = recorded.lineage
    console.print(f"rebuilding v{reproduce}'s training set from its recorded snapshots (Iceberg time travel)")
    training_set = rebuild_training_set(
        datetime.fromisoformat(lineage["cutoff"]),
        timedelta(seconds=lineage["label_maturity_seconds"]),
        lineage["snapshots"],
        settings,
    )
    if training_set.content_hash != lineage["content_hash"]:
        raise ModelsError(
            f"the rebuilt training set of v{reproduce} hashes to {training_set.content_hash}, not the recorded "
            f"{lineage['content_hash']}: the recorded snapshots no longer hold the same rows"
        )
    console.print(f"content hash matches v{reproduce}: {training_set.content_hash}")
    params = recorded.params
    plan = BoostingPlan(params["num_boost_round"], params["early_stopping_rounds"], params["verbose_every"])
    return training_set, params["xgboost"], plan


def _lineage(training_set: TrainingSet, periods: dict[str, Any], reproduce: int | None) -> dict[str, Any]:
    return {
        "cutoff": training_set.cutoff.isoformat(),
        "label_maturity_seconds": training_set.maturity.total_seconds(),
        "snapshots": training_set.snapshots,
        "row_count": len(training_set.frame),
        "content_hash": training_set.content_hash,
        "periods": describe_periods(periods),
        "dbt_manifest_sha256": file_sha256(DBT_MANIFEST),
        "git_commit": git_commit(),
        "libraries": library_versions(),
        "reproduces": reproduce,
    }


def _params(trained: TrainedModel, plan: BoostingPlan) -> dict[str, Any]:
    return {
        "xgboost": trained.params,
        "num_boost_round": plan.num_boost_round,
        "early_stopping_rounds": plan.early_stopping_rounds,
        "verbose_every": plan.verbose_every,
        "best_iteration": trained.best_iteration,
        "workers": trained.workers,
    }


def metrics_line(metrics: dict[str, float]) -> str:
    """A version's test-period metrics against the rules baseline, as the one line commands print."""
    return (
        f"test PR-AUC {metrics['pr_auc']:.4f} (rules baseline {metrics['baseline_pr_auc']:.4f}), "
        f"ROC-AUC {metrics['roc_auc']:.4f}, recall at 1 % FPR {metrics['recall_at_1pct_fpr']:.4f}, "
        f"precision in top 0.5 % {metrics['precision_at_top_0_5pct']:.4f}"
    )


def train_and_register(
    cutoff: datetime | None = None,
    maturity: timedelta = timedelta(0),
    workers: int = 2,
    margin: float = DEFAULT_MARGIN,
    reproduce: int | None = None,
    plan: BoostingPlan | None = None,
    settings: Settings | None = None,
    console: Console | None = None,
) -> TrainingOutcome:
    """Train the fraud model on Ray, evaluate it against the rules baseline, register it and apply the gate.

    Args:
        cutoff: labels known at this aware instant (default: now); transactions before it.
        maturity: leave out transactions younger than this at the cutoff (their chargebacks may still come).
        workers: Ray Train workers.
        margin: PR-AUC gain over the champion needed to become champion.
        reproduce: rebuild this version's training set from its snapshots (hash-checked) and train again.
        plan: rounds and early stopping (default: :class:`BoostingPlan`; a reproduction uses the recorded one).
        settings: settings to use; default: the process settings.
        console: where progress goes.

    Returns:
        The registered version, its alias decision and its report's URI.

    Raises:
        ModelsError: no usable training data, a reproduction whose hash differs, or bad flags.
    """
    settings = settings or get_settings()
    console = console or Console(stderr=True)
    training_set, params, recorded_plan = _training_inputs(cutoff, maturity, reproduce, settings, console)
    plan = plan if plan is not None and reproduce is None else recorded_plan
    periods = split_by_time(training_set)
    for name, period in describe_periods(periods).items():
        console.print(
            f"  {name:<10} {period['rows']:>9,} rows {period['fraud']:>6,} fraud  {period['start']} .. {period['end']}"
        )
    console.print(f"training on Ray with {workers} worker(s); validation PR-AUC every {plan.verbose_every} rounds")
    trained = train_booster(periods, training_set.features, workers, params, plan, settings)
    console.print(f"best round {trained.best_iteration}, validation PR-AUC {trained.best_validation_pr_auc:.4f}")
    test, features = periods["test"], training_set.features
    model_scores = _scores(trained.booster, test, features)
    baseline = RulesBaseline.fit(periods["train"])
    baseline_scores = baseline.score(test)
    metrics = evaluate_scores(test[LABEL].to_numpy(), model_scores)
    metrics.update(
        {f"baseline_{key}": value for key, value in evaluate_scores(test[LABEL].to_numpy(), baseline_scores).items()}
    )
    metrics["validation_pr_auc"] = trained.best_validation_pr_auc
    thresholds = choose_thresholds(
        periods["validation"][LABEL].to_numpy(), _scores(trained.booster, periods["validation"], features)
    )
    decision = decide_promotion(metrics["pr_auc"], test, margin, settings)
    settings.home.mkdir(parents=True, exist_ok=True)  # on an S3 warehouse nothing else may have created it
    with tempfile.TemporaryDirectory(dir=settings.home) as folder:
        write_evaluation_plots(Path(folder), test[LABEL].to_numpy(), model_scores, baseline_scores, trained.booster)
        mv = register_model_version(
            trained.booster,
            features,
            thresholds,
            metrics=metrics,
            params=_params(trained, plan),
            lineage=_lineage(training_set, periods, reproduce),
            artifacts_dir=Path(folder),
            settings=settings,
        )
    write_reference_profile(mv, periods["train"], model_scores, settings)  # before the alias: drift needs it
    mv = promote_model_version(mv.version, decision.alias, settings)
    report_uri = write_artifact(settings, mv.artifact_uri, REPORT_FILE, render_report(mv, decision).encode())
    return TrainingOutcome(model_version=mv, decision=decision, report_uri=report_uri)
