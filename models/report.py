"""The human-readable report of one model version: Markdown next to its plots, linking them by file name."""

from __future__ import annotations

import json
from typing import Any

from models.plots import PLOTS
from models.promotion import PromotionDecision
from models.registry import ModelVersion

METRIC_LABELS = {
    "pr_auc": "PR-AUC",
    "roc_auc": "ROC-AUC",
    "recall_at_1pct_fpr": "recall at 1 % FPR",
    "precision_at_top_0_5pct": "precision in top 0.5 %",
    "brier": "Brier score (lower is better)",
    "calibration_error": "expected calibration error (lower is better)",
}
"""Metrics shown for the model and the rules baseline, in this order."""


def _metric_rows(metrics: dict[str, float]) -> list[str]:
    rows = ["| metric | model | rules baseline |", "| --- | ---: | ---: |"]
    for key, label in METRIC_LABELS.items():
        rows.append(f"| {label} | {metrics[key]:.4f} | {metrics[f'baseline_{key}']:.4f} |")
    return rows


def render_report(mv: ModelVersion, decision: PromotionDecision) -> str:
    """The Markdown report of a registered version: metrics against the baseline, decision, data, lineage, plots.

    Args:
        mv: the registered version (its metrics hold ``baseline_*`` figures next to the model's).
        decision: the alias it got and why.
    """
    lineage: dict[str, Any] = mv.lineage
    periods = lineage["periods"]
    lines = [
        f"# Fraud model v{mv.version}",
        "",
        f"Registered {mv.created_at:%Y-%m-%d %H:%M:%S %Z} from feature service `{mv.feature_service}`; "
        f"labels known at {lineage['cutoff']}.",
        "",
        f"**{decision.alias}**: {decision.reason}.",
        "",
        "## Test period",
        "",
        *_metric_rows(mv.metrics),
        "",
        f"Cut-offs (set on validation): review at p >= {mv.thresholds['review']:.4f}, "
        f"decline at p >= {mv.thresholds['decline']:.4f}.",
        "",
        "## Data (split by event time)",
        "",
        "| period | rows | fraud | from | to |",
        "| --- | ---: | ---: | --- | --- |",
        *(f"| {name} | {p['rows']} | {p['fraud']} | {p['start']} | {p['end']} |" for name, p in periods.items()),
        "",
        "## Plots",
        "",
        *(f"![{name.replace('_', ' ')}]({file})" for name, file in PLOTS.items()),
        "",
        "## Lineage",
        "",
        "```json",
        json.dumps({key: value for key, value in lineage.items() if key != "periods"}, indent=2, sort_keys=True),
        "```",
        "",
        "## Parameters",
        "",
        "```json",
        json.dumps(mv.params, indent=2, sort_keys=True),
        "```",
        "",
        f"Features ({len(mv.features)}): {', '.join(f'`{name}`' for name in mv.features)}.",
        "",
    ]
    return "\n".join(lines)
