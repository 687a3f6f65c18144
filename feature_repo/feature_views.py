"""Feature views over the dbt feature tables: schemas, how long a value stays valid (TTL), owners."""

from datetime import timedelta

from data_sources import card_features_push, customer_features_source, merchant_features_source
from entities import card, customer, merchant
from feast import FeatureView, Field
from feast.types import Float64, Int64

OWNER = "fraud-ml@lakeforge.dev"

card_features = FeatureView(
    name="card_features",
    entities=[card],
    ttl=timedelta(days=7),
    schema=[
        Field(name="tx_count_1h", dtype=Int64, description="Card transactions in the last hour."),
        Field(name="amount_sum_1h_cents", dtype=Int64, description="Their amount, in cents."),
        Field(name="tx_count_24h", dtype=Int64, description="Card transactions in the last 24 hours."),
        Field(name="amount_sum_24h_cents", dtype=Int64, description="Their amount, in cents."),
        Field(name="tx_count_7d", dtype=Int64, description="Card transactions in the last 7 days."),
        Field(name="amount_sum_7d_cents", dtype=Int64, description="Their amount, in cents."),
        Field(name="distinct_merchants_24h", dtype=Int64, description="Distinct merchants paid in 24 hours."),
        Field(name="distinct_categories_24h", dtype=Int64, description="Distinct merchant categories in 24 hours."),
        Field(name="amount_to_avg_7d_ratio", dtype=Float64, description="Amount over the prior 7-day average."),
        Field(name="seconds_since_previous_tx", dtype=Float64, description="Seconds since the previous payment."),
        Field(name="distance_from_home_km", dtype=Float64, description="Distance of the payment from home."),
        Field(name="card_chargebacks_90d", dtype=Int64, description="Chargebacks reported in 90 days."),
    ],
    source=card_features_push,
    online=True,
    description="The card's activity right after each of its transactions (valid for 7 days).",
    owner=OWNER,
    tags={"team": "fraud", "pii": "false"},
)

merchant_features = FeatureView(
    name="merchant_features",
    entities=[merchant],
    ttl=timedelta(days=30),
    schema=[
        Field(name="merchant_tx_count_30d", dtype=Int64, description="Merchant transactions in 30 days."),
        Field(name="merchant_chargebacks_30d", dtype=Int64, description="Chargebacks reported in 30 days."),
        Field(name="merchant_chargeback_rate_30d", dtype=Float64, description="Chargebacks per transaction."),
    ],
    source=merchant_features_source,
    online=True,
    description="The merchant's 30-day figures, known at the end of each active day.",
    owner=OWNER,
    tags={"team": "fraud", "pii": "false"},
)

customer_features = FeatureView(
    name="customer_features",
    entities=[customer],
    ttl=timedelta(days=30),
    schema=[
        Field(name="customer_tx_count_30d", dtype=Int64, description="Transactions of all cards in 30 days."),
        Field(name="customer_amount_sum_30d_cents", dtype=Int64, description="Their amount, in cents."),
        Field(name="customer_avg_amount_30d_cents", dtype=Float64, description="Their average, in cents."),
        Field(name="customer_cards_held", dtype=Int64, description="Cards issued to the customer."),
        Field(name="customer_account_age_days", dtype=Int64, description="Days since registration."),
    ],
    source=customer_features_source,
    online=True,
    description="The customer's 30-day spend and cards, known at the end of each active day.",
    owner=OWNER,
    tags={"team": "fraud", "pii": "false"},
)
