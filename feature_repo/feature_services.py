"""Versioned feature services: the contract between training (models/) and scoring (serving/)."""

from feast import FeatureService
from feature_views import card_features, customer_features, merchant_features
from on_demand import transaction_risk

fraud_model_v1 = FeatureService(
    name="fraud_model_v1",
    features=[card_features, merchant_features, customer_features, transaction_risk],
    description="Every feature of the first fraud model: card, merchant and customer history plus request ratios.",
    owner="fraud-ml@lakeforge.dev",
    tags={"team": "fraud", "pii": "false", "model": "fraud", "version": "1"},
)
