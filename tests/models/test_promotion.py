"""The champion gate: only a clear gain on the same test period makes a new champion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost
from pyiceberg.catalog import Catalog
from sklearn.metrics import average_precision_score

from lake.errors import ModelsError
from lake.settings import Settings
from models.promotion import decide_promotion, gate
from models.registry import promote_model_version, register_model_version
from models.training_set import LABEL
from tests.models.test_registry import FEATURES, THRESHOLDS, tiny_booster


def test_gate_needs_the_margin() -> None:
    assert gate(0.60, 0.50, 3, margin=0.05).alias == "champion"
    decision = gate(0.52, 0.50, 3, margin=0.05)
    assert decision.alias == "challenger"
    assert "below the margin 0.05" in decision.reason and "v3" in decision.reason
    with pytest.raises(ModelsError, match="margin"):
        gate(0.6, 0.5, 3, margin=-0.1)


def test_first_model_becomes_champion(settings: Settings, catalog: Catalog) -> None:
    test = pd.DataFrame({name: [0.1, 0.9] for name in FEATURES} | {LABEL: [0, 1]})
    decision = decide_promotion(0.4, test, settings=settings)
    assert (decision.alias, decision.reason) == ("champion", "there is no champion yet")


def test_champion_is_scored_on_the_new_test_period(settings: Settings, catalog: Catalog) -> None:
    booster, _ = tiny_booster(seed=1)
    champion = register_model_version(booster, FEATURES, THRESHOLDS, settings=settings)
    promote_model_version(champion.version, settings=settings)
    rng = np.random.default_rng(5)
    test = pd.DataFrame(rng.random((400, len(FEATURES))), columns=FEATURES)
    test[LABEL] = (test["distance_from_home_km"] + rng.random(len(test)) > 1.2).astype(int)
    expected = average_precision_score(test[LABEL], booster.predict(xgboost.DMatrix(test[FEATURES])))
    worse = decide_promotion(expected + 0.001, test, margin=0.01, settings=settings)
    assert expected < 0.95
    better = decide_promotion(expected + 0.02, test, margin=0.01, settings=settings)
    assert worse.alias == "challenger" and worse.champion_version == champion.version
    assert worse.champion_pr_auc == pytest.approx(expected)
    assert better.alias == "champion"
    with pytest.raises(ModelsError, match="needs feature"):
        decide_promotion(0.9, test.drop(columns=["tx_count_1h"]), settings=settings)
