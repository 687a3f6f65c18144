"""Request-time features: the transaction being scored compared with what the lake knows about its payer."""

from typing import Any

from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64
from feature_views import card_features, customer_features

transaction = RequestSource(
    name="transaction",
    schema=[Field(name="amount_cents", dtype=Int64, description="Amount of the transaction being scored.")],
    description="The transaction being scored, sent with the request.",
    owner="fraud-ml@lakeforge.dev",
    tags={"team": "fraud", "pii": "false"},
)


@on_demand_feature_view(
    # only the features the function reads: serving converts each declared input to Python on every request
    sources=[
        card_features[["amount_sum_7d_cents", "tx_count_7d"]],
        customer_features[["customer_avg_amount_30d_cents"]],
        transaction,
    ],
    schema=[
        Field(name="amount_to_card_avg_7d", dtype=Float64),
        Field(name="amount_to_customer_avg_30d", dtype=Float64),
    ],
    mode="python",
    description="This amount over the card's 7-day mean and over the customer's 30-day mean.",
    owner="fraud-ml@lakeforge.dev",
    tags={"team": "fraud", "pii": "false"},
)
def transaction_risk(inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Ratios of the request amount to the card's and the customer's recent averages (None without history).

    Feast stores this function's source and runs it alone, so everything it uses is defined inside it.
    """

    def ratio(numerator: float | None, denominator: float | None) -> float | None:
        if numerator is None or denominator is None or denominator == 0:
            return None
        return numerator / denominator

    amounts = inputs["amount_cents"]
    card_means = [
        ratio(total, count) for total, count in zip(inputs["amount_sum_7d_cents"], inputs["tx_count_7d"], strict=True)
    ]
    means = inputs["customer_avg_amount_30d_cents"]
    return {
        "amount_to_card_avg_7d": [ratio(amount, mean) for amount, mean in zip(amounts, card_means, strict=True)],
        "amount_to_customer_avg_30d": [ratio(amount, mean) for amount, mean in zip(amounts, means, strict=True)],
    }
