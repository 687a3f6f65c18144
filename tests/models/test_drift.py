"""Drift monitoring: a champion trained on the small fraud lake, then predictions logged in chosen weeks.

The model is trained once for the module. Each test logs its predictions in its own week of data time, so the
checks (windows ending at a chosen ``as_of``) never see each other's rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xgboost

from lake.catalog import load_catalog
from lake.feast.environment import apply_feature_repo
from lake.settings import Settings, load_settings
from models.drift import (
    DRIFT_TABLE,
    PROFILE_FILE,
    SCORE,
    Bins,
    ReferenceProfile,
    check_drift,
    population_stability_index,
)
from models.registry import (
    ModelVersion,
    load_booster,
    promote_model_version,
    read_artifact,
    register_model_version,
)
from models.train import BoostingPlan
from models.training_run import train_and_register
from models.training_set import fetch_training_set, split_by_time
from serving.scoring.prediction_log import create_predictions_table
from tests.conftest import clean_environment
from tests.models.conftest import fraud_rows, write_fraud_lake
from tests.test_cli import run_cli

CUTOFF = datetime(2026, 2, 25, tzinfo=UTC)
PLAN = BoostingPlan(num_boost_round=20, early_stopping_rounds=5, verbose_every=5)
SHIFTED = "amount_sum_24h_cents"


@dataclass(frozen=True)
class TrainedLake:
    """The module's data home, its champion, and the rows of the champion's training period."""

    settings: Settings
    champion: ModelVersion
    training_rows: pd.DataFrame


@pytest.fixture(scope="module")
def trained(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedLake]:
    """The 3,000-transaction fraud lake of ``fraud_lake`` with a champion trained on Ray."""
    home = tmp_path_factory.mktemp("drift") / "home"
    with clean_environment(home):
        settings = load_settings()
        write_fraud_lake(load_catalog(settings), fraud_rows(3_000, seed=11))
        apply_feature_repo(settings)
        outcome = train_and_register(cutoff=CUTOFF, workers=1, plan=PLAN, settings=settings)
        training = split_by_time(fetch_training_set(CUTOFF, settings=settings))["train"]
        yield TrainedLake(settings, outcome.model_version, training)


def log_predictions(lake: TrainedLake, rows: pd.DataFrame, start: datetime, version: int | None = None) -> None:
    """Score ``rows`` with the champion and append them to ``ml.predictions``, one every ten minutes from ``start``."""
    mv = lake.champion
    matrix = rows[mv.features].to_numpy(np.float64)
    scores = load_booster(mv, lake.settings).predict(xgboost.DMatrix(matrix, feature_names=mv.features))
    table = create_predictions_table(load_catalog(lake.settings))
    records = [
        {
            "request_id": uuid.uuid4().hex,
            "transaction_id": f"tx-{start:%m%d}-{i}",
            "card_id": str(row["card_id"]),
            "merchant_id": str(row["merchant_id"]),
            "transaction_at": start + i * timedelta(minutes=10),
            "scored_at": datetime.now(UTC),
            "model_version": mv.version if version is None else version,
            "fraud_probability": float(score),
            "decision": mv.decide(float(score)),
            "feature_values": json.dumps({name: None if np.isnan(row[name]) else row[name] for name in mv.features}),
            "unknown_entities": "",
        }
        for i, ((_, row), score) in enumerate(zip(rows.iterrows(), scores, strict=True))
    ]
    table.append(pa.Table.from_pylist(records, schema=table.schema().as_arrow()))


def sample(lake: TrainedLake, count: int, seed: int) -> pd.DataFrame:
    """Rows drawn (with replacement) from the champion's training period."""
    return lake.training_rows.sample(count, replace=True, random_state=seed).reset_index(drop=True)


def drift_rows(settings: Settings, run_id: str | None) -> list[dict[str, object]]:
    table = load_catalog(settings).load_table(DRIFT_TABLE)
    return table.scan(row_filter=f"run_id = '{run_id}'").to_arrow().to_pylist()


def test_psi_of_known_shares_and_bins_with_missing_values() -> None:
    assert population_stability_index(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    expected = 0.4 * np.log(0.9 / 0.5) + 0.4 * np.log(0.5 / 0.1)
    assert population_stability_index(np.array([0.5, 0.5]), np.array([0.9, 0.1])) == pytest.approx(expected)
    bins = Bins.fit(np.array([1, 1, 2, 2, 3, 3, 4, 4, np.nan, np.nan]), bins=4)
    assert bins.cuts == [1.75, 2.5, 3.25]
    assert bins.shares == pytest.approx([0.2] * 5)
    assert bins.shares_of(np.array([100.0, 100.0, np.nan, np.nan])).tolist()[-2:] == [0.5, 0.5]


@pytest.mark.ray
@pytest.mark.slow
def test_training_writes_the_reference_profile(trained: TrainedLake) -> None:
    profile = ReferenceProfile.from_json(read_artifact(trained.champion, PROFILE_FILE, trained.settings))
    assert list(profile.features) == trained.champion.features
    assert profile.training_rows == len(trained.training_rows)
    assert profile.score_rows == trained.champion.lineage["periods"]["test"]["rows"]
    for bins in [*profile.features.values(), profile.score]:
        assert sum(bins.shares) == pytest.approx(1.0)
        assert len(bins.shares) == len(bins.cuts) + 2
    assert len(profile.score.cuts) >= 5


@pytest.mark.ray
@pytest.mark.slow
def test_predictions_like_the_training_data_do_not_drift(trained: TrainedLake) -> None:
    log_predictions(trained, sample(trained, 600, seed=1), datetime(2026, 3, 1, tzinfo=UTC))
    report = check_drift(trained.settings, as_of=datetime(2026, 3, 7, 23, 59, tzinfo=UTC))
    assert report.prediction_count == 600 and report.champion_version == trained.champion.version
    assert not report.retrain_due and report.drifted == []
    assert report.reason.startswith("no drift: max PSI 0.")
    assert set(report.feature_psi) == set(trained.champion.features)
    assert max(report.feature_psi.values()) < 0.1 and report.score_psi is not None and report.score_psi < 0.1
    assert len(drift_rows(trained.settings, report.run_id)) == len(trained.champion.features) + 1


@pytest.mark.ray
@pytest.mark.slow
def test_shifted_amounts_drift_and_make_a_retrain_due(trained: TrainedLake) -> None:
    shifted = sample(trained, 600, seed=2)
    shifted[SHIFTED] *= 5
    log_predictions(trained, shifted, datetime(2026, 3, 15, tzinfo=UTC))
    report = check_drift(trained.settings, as_of=datetime(2026, 3, 21, 23, 59, tzinfo=UTC))
    assert report.retrain_due and SHIFTED in report.drifted
    assert report.feature_psi[SHIFTED] > 1.0
    assert all(psi < 0.1 for name, psi in report.feature_psi.items() if name != SHIFTED)
    assert report.reason.startswith("PSI ") and f"> {report.threshold:g}" in report.reason

    rows = {row["feature"]: row for row in drift_rows(trained.settings, report.run_id)}
    assert set(rows) == {*trained.champion.features, SCORE}
    assert rows[SHIFTED]["drifted"] and rows[SHIFTED]["psi"] == pytest.approx(report.feature_psi[SHIFTED])
    assert {row["prediction_count"] for row in rows.values()} == {600}
    assert {row["model_version"] for row in rows.values()} == {trained.champion.version}
    assert report.plot_uri is not None and report.plot_uri.startswith(trained.champion.artifact_uri)
    assert Path(urlparse(report.plot_uri).path).read_bytes().startswith(b"\x89PNG")

    shown = run_cli("drift", "--as-of", "2026-03-21T23:59:00+00:00", env_home=trained.settings.home)
    assert shown.returncode == 0, shown.stderr
    assert "retrain due" in shown.stdout and SHIFTED in shown.stdout and "plot:" in shown.stdout


@pytest.mark.ray
@pytest.mark.slow
def test_too_few_predictions_are_not_judged(trained: TrainedLake) -> None:
    start = datetime(2026, 4, 1, tzinfo=UTC)
    log_predictions(trained, sample(trained, 50, seed=3), start)
    log_predictions(trained, sample(trained, 300, seed=4), start, version=trained.champion.version + 1)
    report = check_drift(trained.settings)
    assert report.as_of == start + 49 * timedelta(minutes=10)
    assert not report.retrain_due and report.score_psi is None and report.run_id is None
    assert report.reason == (
        f"only 50 predictions of v{trained.champion.version} in the 7 days to {report.as_of.isoformat()} (need 200)"
    )


def test_a_champion_without_reference_profile_is_due_for_retraining(settings: Settings) -> None:
    assert check_drift(settings).reason == "no champion model yet: train one"
    rng = np.random.default_rng(0)
    data = xgboost.DMatrix(rng.random((200, 3)), label=rng.random(200) < 0.3, feature_names=["a", "b", "c"])
    booster = xgboost.train({"objective": "binary:logistic", "nthread": 1}, data, num_boost_round=3)
    mv = register_model_version(booster, ["a", "b", "c"], {"review": 0.5, "decline": 0.8}, settings=settings)
    promote_model_version(mv.version, settings=settings)
    report = check_drift(settings)
    assert report.retrain_due and report.champion_version == mv.version
    assert report.reason == f"no reference profile for v{mv.version}: retrain to create one"
