"""The champion gate: a new model replaces the champion only if it is clearly better on the same test period."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import xgboost
from sklearn.metrics import average_precision_score

from lake.errors import ModelsError
from lake.settings import Settings, get_settings
from models.registry import get_model_version, load_booster, resolve_alias
from models.training_set import LABEL

DEFAULT_MARGIN = 0.01
"""PR-AUC points a new model must gain over the champion to replace it."""


@dataclass(frozen=True)
class PromotionDecision:
    """Which alias a new version gets, and why.

    Attributes:
        alias: ``champion`` or ``challenger``.
        reason: one sentence for the user.
        champion_version: the champion it was compared with, if any.
        champion_pr_auc: that champion's PR-AUC on the new model's test period.
    """

    alias: str
    reason: str
    champion_version: int | None = None
    champion_pr_auc: float | None = None


def _check_margin(margin: float) -> None:
    if margin < 0:
        raise ModelsError(f"the promotion margin must be zero or positive; got {margin}")


def gate(pr_auc: float, champion_pr_auc: float, champion_version: int, margin: float) -> PromotionDecision:
    """Champion if ``pr_auc`` beats the champion's by at least ``margin``, else challenger, with the reason.

    Raises:
        ModelsError: a negative margin.
    """
    _check_margin(margin)
    gain = pr_auc - champion_pr_auc
    figures = f"PR-AUC {pr_auc:.4f} vs champion v{champion_version}'s {champion_pr_auc:.4f} on the same test period"
    if gain >= margin:
        return PromotionDecision(
            "champion", f"{figures}: gain {gain:+.4f} reaches the margin {margin}", champion_version, champion_pr_auc
        )
    return PromotionDecision(
        "challenger", f"{figures}: gain {gain:+.4f} is below the margin {margin}", champion_version, champion_pr_auc
    )


def champion_pr_auc_on(test: pd.DataFrame, settings: Settings | None = None) -> tuple[int, float] | None:
    """The current champion's version and its PR-AUC on ``test``; ``None`` when there is no champion.

    Raises:
        ModelsError: the test frame lacks a feature the champion needs.
    """
    settings = settings or get_settings()
    version = resolve_alias("champion", settings)
    if version is None:
        return None
    champion = get_model_version(version, settings=settings)
    missing = [name for name in champion.features if name not in test.columns]
    if missing:
        raise ModelsError(f"champion v{version} needs feature(s) {', '.join(missing)} the new training set lacks")
    scores = load_booster(champion, settings).predict(
        xgboost.DMatrix(test[champion.features], feature_names=champion.features)
    )
    return version, float(average_precision_score(test[LABEL], scores))


def decide_promotion(
    pr_auc: float, test: pd.DataFrame, margin: float = DEFAULT_MARGIN, settings: Settings | None = None
) -> PromotionDecision:
    """Compare a new model's test PR-AUC with the champion's on the same rows and pick the new model's alias.

    Args:
        pr_auc: the new model's PR-AUC on ``test``.
        test: the new model's test period (features and label).
        margin: PR-AUC the new model must gain to become champion.
        settings: settings to use; default: the process settings.

    Raises:
        ModelsError: a negative margin, or the champion needs features the test frame lacks.
    """
    _check_margin(margin)
    champion = champion_pr_auc_on(test, settings)
    if champion is None:
        return PromotionDecision("champion", "there is no champion yet")
    return gate(pr_auc, champion[1], champion[0], margin)
