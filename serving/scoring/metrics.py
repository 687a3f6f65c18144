"""Prometheus metrics of one scoring replica, served at ``/metrics``.

Each replica keeps its own registry (Prometheus sums replicas when it scrapes them through Ray's metrics
endpoints or the Serve proxy); names carry the ``lakeforge_scoring_`` prefix.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "lakeforge_scoring_requests", "HTTP requests answered, by route and status.", ["route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "lakeforge_scoring_request_seconds",
    "Time to answer a request, by route.",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
SCORES = Histogram(
    "lakeforge_scoring_fraud_probability",
    "Distribution of the fraud probabilities answered.",
    buckets=tuple(round(0.05 * step, 2) for step in range(1, 21)),
    registry=REGISTRY,
)
FEATURE_VALUES = Counter(
    "lakeforge_scoring_feature_values",
    "Model inputs looked up, by whether the online store had a value (missing rate = missing / all).",
    ["state"],
    registry=REGISTRY,
)
MODEL_VERSION = Gauge("lakeforge_scoring_model_version", "Version of the champion model in use.", registry=REGISTRY)


def record_scores(probabilities: list[float], present: int, missing: int, model_version: int) -> None:
    """Count one scored batch: its probabilities, its present and missing feature values, the model used."""
    for probability in probabilities:
        SCORES.observe(probability)
    FEATURE_VALUES.labels("present").inc(present)
    FEATURE_VALUES.labels("missing").inc(missing)
    MODEL_VERSION.set(model_version)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
