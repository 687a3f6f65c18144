"""The champion follows the registry alias, and refuses a version that reads another feature service."""

from __future__ import annotations

import pytest

from lake.errors import ScoringError
from lake.settings import Settings
from models.registry import FEATURE_SERVICE, promote_model_version, register_model_version, resolve_alias
from serving.scoring.model import ChampionModel
from serving.scoring.sandbox import THRESHOLDS, Sandbox, register_champion, train_rule_model


def test_refresh_swaps_to_the_promoted_version_and_back(scoring_sandbox: Sandbox) -> None:
    settings, features = scoring_sandbox.settings, scoring_sandbox.champion.features
    first = resolve_alias("champion", settings)
    champion = ChampionModel(settings, FEATURE_SERVICE)
    assert champion.version == first and champion.refresh() is False

    second = register_champion(settings, train_rule_model(features, seed=3), features)
    assert champion.refresh() is True and champion.current.version.version == second.version

    promote_model_version(first, settings=settings)
    assert champion.refresh() is True and champion.version == first


def test_a_champion_for_another_feature_service_is_refused_and_the_old_one_kept(scoring_sandbox: Sandbox) -> None:
    settings, features = scoring_sandbox.settings, scoring_sandbox.champion.features
    first = resolve_alias("champion", settings)
    champion = ChampionModel(settings, FEATURE_SERVICE)
    other = register_model_version(
        train_rule_model(features), features, THRESHOLDS, feature_service="fraud_model_v2", settings=settings
    )
    promote_model_version(other.version, settings=settings)
    try:
        assert champion.refresh() is False
        assert champion.version == first
        assert champion.problem is not None and "fraud_model_v2" in champion.problem
    finally:
        promote_model_version(first, settings=settings)


def test_without_a_champion_the_model_is_not_ready_and_says_why(settings: Settings) -> None:
    champion = ChampionModel(settings, FEATURE_SERVICE)

    assert champion.version is None
    with pytest.raises(ScoringError, match="no model version is champion"):
        _ = champion.current
