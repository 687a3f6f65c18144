"""The rules a fraud team starts with, as the yardstick a model has to beat.

Four amount and velocity rules, each one point: a large amount for the portfolio, an amount far above the
card's own recent average, a burst of payments within the hour, and a payment seconds after the previous one.
The score is the share of rules hit; the large-amount line is set on the training period only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RulesBaseline:
    """Thresholds of the four rules.

    Attributes:
        large_amount_cents: amounts at or above this are large (99th percentile of the training period).
        amount_to_card_average: amount over the card's 7-day average at or above this is unusual.
        payments_in_hour: this many card payments within an hour is a burst.
        seconds_since_previous: a payment this soon after the previous one is rapid-fire.
    """

    large_amount_cents: float
    amount_to_card_average: float = 3.0
    payments_in_hour: int = 3
    seconds_since_previous: float = 120.0

    @classmethod
    def fit(cls, train: pd.DataFrame) -> RulesBaseline:
        """Set the large-amount line at the training period's 99th percentile amount."""
        return cls(large_amount_cents=float(np.quantile(train["amount_cents"], 0.99)))

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Share of the rules each row hits (0, 0.25, ..., 1); missing values hit nothing."""
        hits = [
            frame["amount_cents"] >= self.large_amount_cents,
            frame["amount_to_avg_7d_ratio"] >= self.amount_to_card_average,
            frame["tx_count_1h"] >= self.payments_in_hour,
            frame["seconds_since_previous_tx"] <= self.seconds_since_previous,
        ]
        return np.mean([hit.to_numpy(dtype=bool) for hit in hits], axis=0)
