"""Benchmark: Ray Train XGBoost with 2 workers against single-process ``xgboost.train``, and model vs rules.

Both train the same fixed number of rounds and evaluate the validation period after each (early stopping never
triggers, so the work is equal) on the same synthetic training set shaped like ``fraud_model_v1``'s (22 numeric
features, about 1 % fraud with the generator's fraud patterns: far from home, larger than usual, in bursts), with
the same total threads. The Ray instance is started before timing. Ray Train's fixed cost (controller, worker
group and helper actors started, torn down) is measured on its own first, as one round on 2,000 rows (twice: the
session's first run also starts actors that later runs reuse), and each size also reports the ratio without it.
On the test period (the last 15 % of rows) the model's PR-AUC is set against the rules baseline's. Targets
(issue #5): ratio at most 1.5 at 5M rows; PR-AUC at least 3x the baseline's.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray
import xgboost

from lake.settings import load_settings
from models.evaluate import evaluate_scores
from models.local_ray import start_local_ray
from models.rules_baseline import RulesBaseline
from models.train import DEFAULT_PARAMS, BoostingPlan, class_weight, train_booster
from models.training_set import LABEL

FEATURES = 22
ROUNDS = 50
WORKERS = 2


def synthetic_training_set(rows: int, seed: int = 3) -> pd.DataFrame:
    """Rows in event order with the rules baseline's columns and 17 more numeric features, ~1 % fraud."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(rows) < 0.01
    frame = pd.DataFrame(rng.normal(size=(rows, FEATURES - 5)), columns=[f"feature_{i}" for i in range(FEATURES - 5)])
    frame["feature_0"] += fraud * 0.8
    frame["amount_cents"] = np.where(fraud, rng.lognormal(8.5, 1.2, rows), rng.lognormal(8.0, 1.0, rows))
    frame["amount_to_avg_7d_ratio"] = np.where(fraud, rng.lognormal(0.6, 0.8, rows), rng.lognormal(0.0, 0.6, rows))
    frame["tx_count_1h"] = np.where(fraud, rng.poisson(1.5, rows) + 1, rng.poisson(0.3, rows) + 1)
    frame["seconds_since_previous_tx"] = np.where(fraud, rng.exponential(3_000, rows), rng.exponential(40_000, rows))
    far = np.where(fraud, rng.random(rows) < 0.6, rng.random(rows) < 0.02)
    frame["distance_from_home_km"] = np.where(far, rng.uniform(100, 5_000, rows), rng.exponential(8, rows))
    frame[LABEL] = fraud.astype(np.int8)
    return frame


def _periods(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    first_validation, first_test = int(len(frame) * 0.7), int(len(frame) * 0.85)
    return {
        "train": frame.iloc[:first_validation],
        "validation": frame.iloc[first_validation:first_test],
        "test": frame.iloc[first_test:],
    }


def _matrix(frame: pd.DataFrame, features: list[str]) -> xgboost.DMatrix:
    return xgboost.DMatrix(frame[features].to_numpy(np.float32), label=frame[LABEL], feature_names=features)


def _single_process(periods: dict[str, pd.DataFrame], features: list[str]) -> xgboost.Booster:
    """``xgboost.train`` doing what each Ray run does: ROUNDS rounds, the validation period evaluated after each."""
    train = periods["train"]
    params = {**DEFAULT_PARAMS, "scale_pos_weight": class_weight(train[LABEL]), "nthread": WORKERS}
    return xgboost.train(
        params,
        _matrix(train, features),
        num_boost_round=ROUNDS,
        evals=[(_matrix(periods["validation"], features), "validation")],
        early_stopping_rounds=ROUNDS,
        verbose_eval=False,
    )


def _ray_train(periods: dict[str, pd.DataFrame], features: list[str], rounds: int, home: Path) -> xgboost.Booster:
    plan = BoostingPlan(num_boost_round=rounds, early_stopping_rounds=rounds, verbose_every=rounds)
    return train_booster(periods, features, WORKERS, plan=plan, settings=load_settings(home=home)).booster


def _fixed_cost(home: Path) -> tuple[float, float]:
    """Seconds of two Ray Train runs that do almost no work (one round on 2,000 rows): the session's first, which
    also starts the cluster-wide actors Ray Train keeps, and the next one, the cost every run pays."""
    frame = synthetic_training_set(2_000)
    features = [column for column in frame.columns if column != LABEL]
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        _ray_train(_periods(frame), features, 1, home)
        seconds.append(time.perf_counter() - started)
    return seconds[0], seconds[1]


def _measure(rows: int, home: Path, fixed_s: float) -> dict[str, Any]:
    frame = synthetic_training_set(rows)
    features = [column for column in frame.columns if column != LABEL]
    periods = _periods(frame)
    started = time.perf_counter()
    single = _single_process(periods, features)
    single_s = time.perf_counter() - started
    started = time.perf_counter()
    booster = _ray_train(periods, features, ROUNDS, home)
    ray_s = time.perf_counter() - started
    test = periods["test"]
    model = evaluate_scores(
        test[LABEL].to_numpy(),
        booster.predict(xgboost.DMatrix(test[features].to_numpy(np.float32), feature_names=features)),
    )
    baseline = evaluate_scores(test[LABEL].to_numpy(), RulesBaseline.fit(periods["train"]).score(test))
    single_model = evaluate_scores(
        test[LABEL].to_numpy(),
        single.predict(xgboost.DMatrix(test[features].to_numpy(np.float32), feature_names=features)),
    )
    return {
        "rows": rows,
        "features": len(features),
        "rounds": ROUNDS,
        "ray_train_2_workers_s": round(ray_s, 2),
        "xgboost_single_process_2_threads_s": round(single_s, 2),
        "ratio_ray_to_single": round(ray_s / single_s, 2),
        "ratio_without_ray_fixed_cost": round((ray_s - fixed_s) / single_s, 2),
        "test_pr_auc_model": round(model["pr_auc"], 4),
        "test_pr_auc_single_process_model": round(single_model["pr_auc"], 4),
        "test_pr_auc_rules_baseline": round(baseline["pr_auc"], 4),
        "pr_auc_ratio_model_to_baseline": round(model["pr_auc"] / baseline["pr_auc"], 2),
    }


def run(small: bool) -> dict[str, Any]:
    """Ray Train's fixed cost, then both trainers at each size (50k rows when ``small``, else 1M and 5M)."""
    sizes = [50_000] if small else [1_000_000, 5_000_000]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        start_local_ray(num_cpus=WORKERS)
        startup_s = time.perf_counter() - started
        try:
            first_s, fixed_s = _fixed_cost(Path(folder))
            results = [_measure(rows, Path(folder), fixed_s) for rows in sizes]
        finally:
            ray.shutdown()
    return {
        "ray_startup_s": round(startup_s, 2),
        "ray_train_first_run_s": round(first_s, 2),
        "ray_train_fixed_cost_s": round(fixed_s, 2),
        "cpus": os.cpu_count(),
        "sizes": results,
    }
