"""The registry in the lake: version rows, artifact files, aliases, the booster round trip."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost
from pyiceberg.catalog import Catalog

from lake.errors import ModelsError
from lake.settings import Settings
from models.registry import (
    get_model_version,
    list_model_versions,
    load_booster,
    promote_model_version,
    read_artifact,
    register_model_version,
    resolve_alias,
)

FEATURES = ["tx_count_1h", "distance_from_home_km", "amount_to_card_avg_7d"]
THRESHOLDS = {"review": 0.3, "decline": 0.8}


def tiny_booster(seed: int = 0) -> tuple[xgboost.Booster, np.ndarray]:
    """A few trees on three features, and the rows it was trained on."""
    rng = np.random.default_rng(seed)
    values = rng.random((300, len(FEATURES)))
    labels = (values[:, 1] > 0.7).astype(int)
    matrix = xgboost.DMatrix(values, label=labels, feature_names=FEATURES)
    return xgboost.train({"objective": "binary:logistic", "seed": seed}, matrix, num_boost_round=5), values


def test_register_writes_the_version_row_and_its_files(settings: Settings, catalog: Catalog, tmp_path) -> None:
    booster, values = tiny_booster()
    extra = tmp_path / "artifacts"
    extra.mkdir()
    (extra / "report.md").write_text("# report")
    lineage = {"snapshots": {"features.card_features": 42}, "content_hash": "abc", "row_count": 300}
    mv = register_model_version(
        booster,
        FEATURES,
        THRESHOLDS,
        metrics={"pr_auc": 0.5},
        params={"eta": 0.1},
        lineage=lineage,
        artifacts_dir=extra,
        settings=settings,
    )
    assert mv.version == 1 and mv.aliases == [] and mv.feature_service == "fraud_model_v1"
    row = catalog.load_table("ml.model_versions").scan().to_arrow().to_pylist()[0]
    assert row["version"] == 1 and '"content_hash": "abc"' in row["lineage"]
    stored = get_model_version(1, settings=settings)
    assert (stored.features, stored.thresholds, stored.metrics, stored.lineage) == (
        FEATURES,
        THRESHOLDS,
        {"pr_auc": 0.5},
        lineage,
    )
    assert read_artifact(stored, "report.md", settings) == b"# report"
    matrix = xgboost.DMatrix(values, feature_names=FEATURES)
    np.testing.assert_array_equal(load_booster(stored, settings).predict(matrix), booster.predict(matrix))


def test_aliases_move_and_champion_clears_challenger(settings: Settings, catalog: Catalog) -> None:
    booster, _ = tiny_booster()
    for _ in range(2):
        register_model_version(booster, FEATURES, THRESHOLDS, settings=settings)
    with pytest.raises(ModelsError, match="no model version is champion"):
        get_model_version(settings=settings)
    promote_model_version(1, settings=settings)
    promote_model_version(2, "challenger", settings=settings)
    assert [mv.aliases for mv in list_model_versions(settings)] == [["champion"], ["challenger"]]
    promoted = promote_model_version(2, settings=settings)
    assert promoted.aliases == ["champion"]
    assert resolve_alias("challenger", settings) is None
    assert get_model_version(settings=settings).version == 2
    assert catalog.load_table("ml.model_aliases").scan().to_arrow().num_rows == 4


def test_bad_requests_name_what_was_wrong(settings: Settings, catalog: Catalog) -> None:
    booster, _ = tiny_booster()
    with pytest.raises(ModelsError, match="takes 3 inputs but 2"):
        register_model_version(booster, FEATURES[:2], THRESHOLDS, settings=settings)
    with pytest.raises(ModelsError, match="review <= decline"):
        register_model_version(booster, FEATURES, {"review": 0.9, "decline": 0.1}, settings=settings)
    with pytest.raises(ModelsError, match="no model version 7"):
        get_model_version(7, settings=settings)
    with pytest.raises(ModelsError, match="unknown alias"):
        promote_model_version(1, "best", settings=settings)
    assert list_model_versions(settings) == []


def test_decide_maps_probabilities_to_decisions(settings: Settings, catalog: Catalog) -> None:
    mv = register_model_version(tiny_booster()[0], FEATURES, THRESHOLDS, settings=settings)
    assert [mv.decide(p) for p in (0.1, 0.3, 0.5, 0.8, 0.99)] == ["approve", "review", "review", "decline", "decline"]
