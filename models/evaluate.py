"""How well scores separate fraud on the test period: ranking, operating points, calibration, cut-offs.

Card fraud is rare (well under 1 % of transactions), so the headline is the area under the precision-recall
curve; the operating points say what an analyst queue sees: the share of fraud caught while flagging 1 % of
legitimate payments, and how pure the top 0.5 % of scores is.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from lake.errors import ModelsError

CALIBRATION_BINS = 10
"""Equal-width probability bins of the calibration figures."""


def _check(labels: np.ndarray, scores: np.ndarray) -> None:
    if len(labels) != len(scores) or len(labels) == 0:
        raise ModelsError(f"labels ({len(labels)}) and scores ({len(scores)}) must be non-empty and of equal length")
    positives = int(labels.sum())
    if positives in (0, len(labels)):
        raise ModelsError(f"the test period needs both fraud and legitimate rows; it has {positives} of {len(labels)}")


def recall_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> float:
    """Share of fraud scored above the cut-off that flags at most ``fpr`` of legitimate rows."""
    false_positive_rates, true_positive_rates, _ = roc_curve(labels, scores)
    return float(true_positive_rates[false_positive_rates <= fpr].max())


def precision_at_top(labels: np.ndarray, scores: np.ndarray, share: float = 0.005) -> float:
    """Share of fraud among the highest ``share`` of scores (at least one row; ties broken by row order)."""
    count = max(1, round(len(scores) * share))
    top = np.argsort(-scores, kind="stable")[:count]
    return float(labels[top].mean())


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Row-weighted mean gap between the mean score and the fraud rate over equal-width score bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    gaps = [
        abs(scores[which == b].mean() - labels[which == b].mean()) * (which == b).sum()
        for b in range(bins)
        if (which == b).any()
    ]
    return float(sum(gaps) / len(scores))


def evaluate_scores(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Every test-period metric of one scorer.

    Args:
        labels: 1 for fraud, 0 otherwise.
        scores: higher means more likely fraud; probabilities for the calibration figures to mean anything.

    Returns:
        ``pr_auc``, ``roc_auc``, ``recall_at_1pct_fpr``, ``precision_at_top_0_5pct``, ``brier``,
        ``calibration_error``, ``rows`` and ``fraud``.

    Raises:
        ModelsError: the inputs differ in length, or the period lacks one of the classes.
    """
    labels, scores = np.asarray(labels, dtype=np.int8), np.asarray(scores, dtype=np.float64)
    _check(labels, scores)
    return {
        "pr_auc": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "recall_at_1pct_fpr": recall_at_fpr(labels, scores, 0.01),
        "precision_at_top_0_5pct": precision_at_top(labels, scores, 0.005),
        "brier": float(brier_score_loss(labels, np.clip(scores, 0.0, 1.0))),
        "calibration_error": expected_calibration_error(labels, np.clip(scores, 0.0, 1.0)),
        "rows": float(len(labels)),
        "fraud": float(labels.sum()),
    }


def calibration_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fraud rate and mean score per non-empty bin (the calibration plot's points)."""
    fraud_rate, mean_score = calibration_curve(labels, np.clip(scores, 0.0, 1.0), n_bins=CALIBRATION_BINS)
    return fraud_rate, mean_score


def choose_thresholds(
    labels: np.ndarray, scores: np.ndarray, review_fpr: float = 0.01, decline_fpr: float = 0.001
) -> dict[str, float]:
    """Probability cut-offs that flag ``review_fpr`` / ``decline_fpr`` of legitimate rows (chosen on validation).

    Args:
        labels: validation labels.
        scores: validation scores.
        review_fpr: share of legitimate payments sent to review.
        decline_fpr: share of legitimate payments declined (smaller, so the decline cut-off is higher).

    Returns:
        ``{"review": p1, "decline": p2}`` with ``p1 <= p2``.
    """
    legitimate = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels) == 0])
    if legitimate.size == 0:
        raise ModelsError("the validation period has no legitimate row to set the cut-offs on")
    review = float(np.quantile(legitimate, 1.0 - review_fpr))
    decline = float(np.quantile(legitimate, 1.0 - decline_fpr))
    return {"review": min(review, decline), "decline": max(review, decline)}
