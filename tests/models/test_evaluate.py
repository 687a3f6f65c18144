"""Test-period metrics and cut-offs on scores whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from lake.errors import ModelsError
from models.evaluate import choose_thresholds, evaluate_scores, precision_at_top, recall_at_fpr
from models.rules_baseline import RulesBaseline

LABELS = np.array([0] * 196 + [1] * 4)


def test_perfect_and_useless_scores() -> None:
    perfect = evaluate_scores(LABELS, LABELS * 0.9 + 0.05)
    assert perfect["pr_auc"] == pytest.approx(1.0) and perfect["roc_auc"] == pytest.approx(1.0)
    assert perfect["recall_at_1pct_fpr"] == 1.0 and perfect["precision_at_top_0_5pct"] == 1.0
    constant = evaluate_scores(LABELS, np.full(len(LABELS), 0.02))
    assert constant["roc_auc"] == pytest.approx(0.5)
    assert constant["calibration_error"] == pytest.approx(0.0)
    with pytest.raises(ModelsError, match="both fraud and legitimate"):
        evaluate_scores(np.zeros(10), np.zeros(10))


def test_operating_points() -> None:
    scores = np.linspace(0, 1, len(LABELS))
    scores[-4:] = [0.2, 0.99, 0.995, 0.999]
    assert recall_at_fpr(LABELS, scores, 0.01) == pytest.approx(0.75)
    assert precision_at_top(LABELS, scores, 0.005) == 1.0
    thresholds = choose_thresholds(LABELS, scores, review_fpr=0.1, decline_fpr=0.01)
    legitimate = scores[LABELS == 0]
    assert (legitimate >= thresholds["review"]).mean() == pytest.approx(0.1, abs=0.01)
    assert thresholds["review"] <= thresholds["decline"]


def test_rules_baseline_counts_rule_hits() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "amount_cents": [100, 90_000],
            "amount_to_avg_7d_ratio": [1.0, np.nan],
            "tx_count_1h": [1, 5],
            "seconds_since_previous_tx": [np.nan, 30.0],
        }
    )
    baseline = RulesBaseline(large_amount_cents=50_000)
    np.testing.assert_array_equal(baseline.score(frame), [0.0, 0.75])
    assert RulesBaseline.fit(frame).large_amount_cents > 80_000
