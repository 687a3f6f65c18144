"""Distributed XGBoost training with Ray Train, early-stopped on the validation period.

Each worker receives its share of the training rows through Ray's object store (every N-th row, so each worker sees
the whole time span) and the whole validation period (so every worker's metrics, hence its early stopping, are those
of the whole period, even when fraud is too rare to reach each share) and runs ``xgboost.train`` inside Ray Train's
XGBoost trainer, which wires the workers into one XGBoost collective: histograms are summed across workers, so the
result is one model trained on all rows. Rank 0 prints the validation metrics as boosting goes and reports the
finished model once, into Ray Train's run folder under the warehouse: every node of a Ray cluster can reach it
there, and the driver reads the model back from it (a local folder would be on whichever node rank 0 ran).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray
import ray.train
import xgboost
from pyarrow.fs import FileSystem
from pyiceberg.io.pyarrow import PyArrowFileIO
from ray.train.xgboost import XGBoostTrainer

from lake.errors import ModelsError
from lake.settings import Settings, get_settings
from models.local_ray import start_ray
from models.train_worker import CHECKPOINT_MODEL, train_per_worker
from models.training_set import LABEL

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "aucpr"],
    "tree_method": "hist",
    "max_depth": 6,
    "eta": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "seed": 7,
}
"""XGBoost parameters; the last ``eval_metric`` (PR-AUC) drives early stopping."""
RUNS_FOLDER = "ml.db/ray_results"
"""Ray Train's run folders, relative to the warehouse (next to the model artifacts)."""


@dataclass(frozen=True)
class BoostingPlan:
    """How long to boost and when to stop.

    Attributes:
        num_boost_round: most rounds to run.
        early_stopping_rounds: stop after this many rounds without a better validation PR-AUC.
        verbose_every: print the validation metrics every this many rounds.
    """

    num_boost_round: int = 300
    early_stopping_rounds: int = 50
    verbose_every: int = 10


@dataclass(frozen=True)
class TrainedModel:
    """The booster cut at its best round, and how it was trained."""

    booster: xgboost.Booster
    params: dict[str, Any]
    best_iteration: int
    best_validation_pr_auc: float
    workers: int


def class_weight(labels: pd.Series) -> float:
    """``scale_pos_weight``: negatives per positive, so fraud weighs as much as all legitimate rows together.

    Raises:
        ModelsError: no positive label.
    """
    positives = int(labels.sum())
    if positives == 0:
        raise ModelsError("the training period has no fraud label; pick a later cutoff or load more data")
    return (len(labels) - positives) / positives


@contextmanager
def ray_session(settings: Settings | None = None) -> Iterator[None]:
    """Use the running Ray instance, else connect to the cluster address or start a local one (shut down after).

    Args:
        settings: ``settings.ray.address`` names a cluster; unset starts a local instance.
    """
    settings = settings or get_settings()
    if ray.is_initialized():
        yield
        return
    start_ray(settings)
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def _without_ray_data_deprecations() -> Iterator[None]:
    """Ray Train copies Ray Data's context, whose deprecated settings warn as they are copied: Ray's own doing,
    nothing a user can act on, yet printed in every training once Feast's import has turned DeprecationWarnings on
    for the whole process."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.data\.context")
        yield


def run_storage(settings: Settings) -> tuple[FileSystem, str]:
    """Where Ray Train keeps its runs: the warehouse's file system (with the catalog's S3 endpoint and keys) and the
    path of :data:`RUNS_FOLDER` on it."""
    file_io = PyArrowFileIO(settings.catalog_properties())
    scheme, netloc, path = file_io.parse_location(f"{str(settings.catalog.warehouse).rstrip('/')}/{RUNS_FOLDER}")
    return file_io.fs_by_scheme(scheme, netloc), path


def _shards(frame: pd.DataFrame, features: list[str], workers: int) -> list[ray.ObjectRef]:
    values = frame[features].to_numpy(dtype=np.float32)
    labels = frame[LABEL].to_numpy(dtype=np.float32)
    return [ray.put((values[rank::workers], labels[rank::workers])) for rank in range(workers)]


def train_booster(
    periods: dict[str, pd.DataFrame],
    features: list[str],
    workers: int = 2,
    params: dict[str, Any] | None = None,
    plan: BoostingPlan | None = None,
    settings: Settings | None = None,
) -> TrainedModel:
    """Train on the train period with Ray Train's XGBoost trainer, early-stopped on the validation period.

    Args:
        periods: ``train`` and ``validation`` frames holding ``features`` and the label.
        features: the model's input columns, in order.
        workers: Ray Train workers (each gets the node's CPUs divided evenly, at least one).
        params: XGBoost parameters over :data:`DEFAULT_PARAMS`; ``scale_pos_weight`` defaults to the class ratio.
        plan: rounds and early stopping.
        settings: settings to use (where Ray runs, where Ray Train keeps its run folder).

    Returns:
        The booster cut at its best validation round.

    Raises:
        ModelsError: fewer than one worker, or more workers than training rows.
    """
    settings = settings or get_settings()
    plan = plan or BoostingPlan()
    if workers < 1 or workers > len(periods["train"]):
        raise ModelsError(f"--workers must be between 1 and the training rows ({len(periods['train'])}); got {workers}")
    fs, storage_path = run_storage(settings)
    with ray_session(settings), _without_ray_data_deprecations():
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
        chosen = {**DEFAULT_PARAMS, "scale_pos_weight": class_weight(periods["train"][LABEL]), "nthread": cpus}
        chosen.update(params or {})
        trainer = XGBoostTrainer(
            train_per_worker,
            train_loop_config={
                "params": chosen,
                "features": features,
                **asdict(plan),
                "train": _shards(periods["train"], features, workers),
                "validation": _shards(periods["validation"], features, 1)[0],
            },
            scaling_config=ray.train.ScalingConfig(num_workers=workers, resources_per_worker={"CPU": cpus}),
            run_config=ray.train.RunConfig(
                name=f"train-{datetime.now(UTC):%Y%m%dT%H%M%S%f}", storage_path=storage_path, storage_filesystem=fs
            ),
        )
        result = trainer.fit()
    if result.checkpoint is None:
        raise ModelsError(f"Ray Train finished without a model: {result.error}")
    with result.checkpoint.as_directory() as folder:
        booster = xgboost.Booster(model_file=Path(folder) / CHECKPOINT_MODEL)
    best = int(booster.attr("best_iteration") or booster.num_boosted_rounds() - 1)
    best_score = float(booster.attr("best_score") or "nan")
    return TrainedModel(
        booster=booster[: best + 1],
        params=chosen,
        best_iteration=best,
        best_validation_pr_auc=best_score,
        workers=workers,
    )
