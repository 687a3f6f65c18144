"""Ray Train's loop on one worker, in a module of its own so that worker processes import only Ray and XGBoost.

Every Ray Train worker process, and the run's controller, imports the module that defines the loop and unpickles
its config. Keeping Feast, pyiceberg and pandas (what :mod:`models.train` pulls in through the training set) out
of this module saves several seconds of start-up per process, which on a small cluster is most of a short run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ray
import ray.train
import xgboost

CHECKPOINT_MODEL = "model.json"
"""The booster's file inside the Ray Train checkpoint rank 0 reports once training ends."""


def train_per_worker(config: dict[str, Any]) -> None:
    """Build this worker's matrices from its shard, boost in the collective, report the model (rank 0).

    Args:
        config: ``params`` (XGBoost), ``features``, ``train`` (one object ref per rank), ``validation`` (one
            object ref), and the plan's ``num_boost_round``, ``early_stopping_rounds`` and ``verbose_every``.
    """
    rank = ray.train.get_context().get_world_rank()
    features = config["features"]
    train_values, train_labels = ray.get(config["train"][rank])
    validation_values, validation_labels = ray.get(config["validation"])
    train = xgboost.DMatrix(train_values, label=train_labels, feature_names=features)
    validation = xgboost.DMatrix(validation_values, label=validation_labels, feature_names=features)
    booster = xgboost.train(
        config["params"],
        train,
        num_boost_round=config["num_boost_round"],
        evals=[(validation, "validation")],
        early_stopping_rounds=config["early_stopping_rounds"],
        verbose_eval=config["verbose_every"],
    )
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = None
        if rank == 0:
            booster.save_model(Path(folder) / CHECKPOINT_MODEL)
            checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report({"best_iteration": booster.best_iteration}, checkpoint=checkpoint)
