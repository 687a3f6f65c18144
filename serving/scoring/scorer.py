"""Scoring of a batch of transactions: online features, the champion's prediction, reasons and log rows.

Shared by the Ray Serve deployment (:mod:`serving.scoring.app`) and by anything else that scores in process
(the benchmark's bare FastAPI baseline), so both do exactly the same work per request.
"""

from __future__ import annotations

import gc
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lake.settings import Settings
from models.registry import FEATURE_SERVICE
from serving.scoring.features import OnlineFeatureLookup
from serving.scoring.metrics import record_scores
from serving.scoring.model import ChampionModel, LoadedModel
from serving.scoring.schemas import Freshness, Reason, Score

TOP_REASONS = 3
"""Feature contributions returned per score."""


@dataclass(frozen=True)
class ScoredBatch:
    """Answers for a batch, and the rows that record them in ``ml.predictions``."""

    scores: list[Score]
    log_rows: list[dict[str, Any]]


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _reasons(names: list[str], values: np.ndarray, contributions: np.ndarray) -> list[Reason]:
    strongest = np.argsort(-np.abs(contributions[:-1]))[:TOP_REASONS]
    return [Reason(feature=names[i], value=_number(values[i]), contribution=float(contributions[i])) for i in strongest]


class TransactionScorer:
    """Online features plus the champion model: turns transactions into explained, loggable scores."""

    def __init__(self, settings: Settings, service_name: str = FEATURE_SERVICE) -> None:
        """Open the feature store and load the champion.

        Args:
            settings: the profile's settings.
            service_name: the Feast feature service to read (the champion's own ``feature_service``).
        """
        self.features = OnlineFeatureLookup(settings, service_name)
        self.champion = ChampionModel(settings, service_name)
        gc.freeze()  # the startup heap (modules, registry, model) lives forever: keep full GC passes off requests

    def refresh(self) -> None:
        """Follow the champion alias and re-read feature freshness and card holders."""
        self.champion.refresh()
        self.features.refresh()

    def score(self, transactions: list[dict[str, Any]]) -> ScoredBatch:
        """Score transactions with one feature lookup and one model call.

        Args:
            transactions: rows of the ``raw.transactions`` contract.

        Returns:
            One :class:`Score` per transaction, in order, and their prediction-log rows.

        Raises:
            ScoringError: no champion model is loaded.
        """
        model: LoadedModel = self.champion.current
        names = model.version.features
        batch = self.features.lookup(transactions)
        matrix = np.array([batch.values[name] for name in names], dtype=np.float64).T
        prediction = model.predict(matrix)
        materialized = self.features.materialized_until()
        scored_at = datetime.now(UTC)
        scores, rows = [], []
        for i, transaction in enumerate(transactions):
            probability = float(prediction.probabilities[i])
            score = Score(
                request_id=uuid.uuid4().hex,
                transaction_id=transaction["transaction_id"],
                fraud_probability=probability,
                decision=model.version.decide(probability),  # type: ignore[arg-type]
                model_version=model.version.version,
                reasons=_reasons(names, matrix[i], prediction.contributions[i]),
                unknown_entities=batch.unknown_entities[i],  # type: ignore[arg-type]
                freshness=[
                    Freshness(view=view, value_time=times[i], materialized_until=materialized.get(view))
                    for view, times in batch.value_times.items()
                ],
            )
            scores.append(score)
            rows.append(
                {
                    "request_id": score.request_id,
                    "transaction_id": score.transaction_id,
                    "card_id": transaction["card_id"],
                    "merchant_id": transaction["merchant_id"],
                    "transaction_at": transaction["transaction_at"],
                    "scored_at": scored_at,
                    "model_version": score.model_version,
                    "fraud_probability": probability,
                    "decision": score.decision,
                    "feature_values": json.dumps({name: _number(matrix[i][j]) for j, name in enumerate(names)}),
                    "unknown_entities": ",".join(score.unknown_entities),
                }
            )
        missing = int(np.isnan(matrix).sum())
        record_scores([s.fraud_probability for s in scores], matrix.size - missing, missing, model.version.version)
        return ScoredBatch(scores=scores, log_rows=rows)
