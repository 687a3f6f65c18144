"""The drift figure of one check, rendered to PNG bytes with matplotlib's Agg backend (no display needed).

Bytes rather than a file, so the caller can store it next to the champion's artifacts on any warehouse.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

DRIFTED_COLOR = "tab:red"
STABLE_COLOR = "tab:blue"


def render_drift_plot(
    psi: dict[str, float],
    threshold: float,
    score_expected: np.ndarray,
    score_actual: np.ndarray,
    title: str,
) -> bytes:
    """PSI per feature and for the score against the threshold, and the score's bin shares then and now.

    Args:
        psi: name to population stability index (features and the score).
        threshold: PSI over which a bar counts as drifted (drawn red, with a dashed line at the threshold).
        score_expected: the score's share per reference bin, from the champion's test period.
        score_actual: the recent predictions' share per bin.
        title: figure title (model version, window).

    Returns:
        The PNG file's bytes.
    """
    ordered = sorted(psi.items(), key=lambda item: item[1])
    figure = Figure(figsize=(13, max(4.5, 0.28 * len(ordered) + 1.5)))
    bars, shares = figure.subplots(1, 2, width_ratios=[1.3, 1])
    bars.barh(
        [name for name, _ in ordered],
        [value for _, value in ordered],
        color=[DRIFTED_COLOR if value > threshold else STABLE_COLOR for _, value in ordered],
    )
    bars.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    bars.set(xlabel="population stability index", title="PSI against the training data")
    bars.legend(loc="lower right")
    positions = np.arange(len(score_expected))
    shares.bar(positions - 0.2, score_expected, width=0.4, label="test period (expected)")
    shares.bar(positions + 0.2, score_actual, width=0.4, label="recent predictions (actual)")
    shares.set_xticks(positions, [str(i + 1) for i in positions])
    shares.set(xlabel="score bin (reference quantiles)", ylabel="share of rows", title="Score distribution")
    shares.legend()
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
