"""The evaluation figures, written as PNG files with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import xgboost
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from models.evaluate import calibration_points

PLOTS = {
    "precision_recall": "precision_recall.png",
    "roc": "roc.png",
    "feature_importance": "feature_importance.png",
    "score_distribution": "score_distribution.png",
    "calibration": "calibration.png",
}
"""File name of each figure."""


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _precision_recall(labels: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, values in scores.items():
        precision, recall, _ = precision_recall_curve(labels, values)
        axes.plot(recall, precision, label=name)
    axes.axhline(labels.mean(), color="grey", linestyle=":", label="fraud rate")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall, test period")
    axes.legend()
    return figure


def _roc(labels: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, values in scores.items():
        false_positive_rate, true_positive_rate, _ = roc_curve(labels, values)
        axes.plot(false_positive_rate, true_positive_rate, label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.axvline(0.01, color="red", linestyle="--", linewidth=0.8, label="1 % FPR")
    axes.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC, test period")
    axes.legend()
    return figure


def _importance(booster: xgboost.Booster) -> Figure:
    gains = sorted(booster.get_score(importance_type="gain").items(), key=lambda item: item[1])
    figure, axes = plt.subplots(figsize=(7, max(3.0, 0.3 * len(gains) + 1)))
    axes.barh([name for name, _ in gains], [gain for _, gain in gains])
    axes.set(xlabel="mean gain per split", title="Feature importance")
    return figure


def _distribution(labels: np.ndarray, scores: np.ndarray) -> Figure:
    figure, axes = plt.subplots(figsize=(6, 4.5))
    bins = [float(edge) for edge in np.linspace(0.0, 1.0, 41)]
    axes.hist(scores[labels == 0], bins=bins, alpha=0.6, density=True, label="legitimate")
    axes.hist(scores[labels == 1], bins=bins, alpha=0.6, density=True, label="fraud")
    axes.set(xlabel="model score", ylabel="density", yscale="log", title="Scores by label, test period")
    axes.legend()
    return figure


def _calibration(labels: np.ndarray, scores: np.ndarray) -> Figure:
    fraud_rate, mean_score = calibration_points(labels, scores)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    axes.plot(mean_score, fraud_rate, marker="o", label="model")
    axes.set(xlabel="mean score in bin", ylabel="fraud rate in bin", title="Calibration, test period")
    axes.legend()
    return figure


def write_evaluation_plots(
    folder: Path, labels: np.ndarray, model_scores: np.ndarray, baseline_scores: np.ndarray, booster: xgboost.Booster
) -> dict[str, Path]:
    """Write the five evaluation figures into ``folder``.

    Args:
        folder: where the PNG files go (created if missing).
        labels: test-period labels.
        model_scores: the model's test-period probabilities.
        baseline_scores: the rules baseline's test-period scores.
        booster: the model (for its feature importance).

    Returns:
        Figure name to the file written (names as in :data:`PLOTS`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    both = {"model": model_scores, "rules baseline": baseline_scores}
    figures = {
        "precision_recall": _precision_recall(labels, both),
        "roc": _roc(labels, both),
        "feature_importance": _importance(booster),
        "score_distribution": _distribution(labels, model_scores),
        "calibration": _calibration(labels, model_scores),
    }
    return {name: _save(figure, folder / PLOTS[name]) for name, figure in figures.items()}
