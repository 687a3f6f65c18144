"""Where feature values come from: the dbt-built Iceberg tables in the ``features`` namespace.

The catalog options come from the Lakeforge settings, so the same sources serve the local and cluster
profiles. Card features can also be pushed fresh (``store.push("card_features_push", rows)``).
"""

from feast import PushSource
from feast.infra.data_sources.contrib.iceberg_catalog.iceberg_source import IcebergSource

from lake.feast.environment import iceberg_source_options

CATALOG = iceberg_source_options()
OWNER = "analytics@lakeforge.dev"
TAGS = {"team": "analytics", "pii": "false", "built_by": "dbt"}

card_features_source = IcebergSource(
    name="card_features_source",
    namespace="features",
    table="card_features",
    timestamp_field="feature_timestamp",
    description="dbt model features.card_features: one row per card per transaction.",
    owner=OWNER,
    tags=TAGS,
    **CATALOG,
)

card_features_push = PushSource(
    name="card_features_push",
    batch_source=card_features_source,
    description="Fresh card features pushed by the scoring path, ahead of the next dbt run.",
    owner="fraud-ml@lakeforge.dev",
    tags={"team": "fraud", "pii": "false"},
)

merchant_features_source = IcebergSource(
    name="merchant_features_source",
    namespace="features",
    table="merchant_features",
    timestamp_field="feature_timestamp",
    description="dbt model features.merchant_features: one row per merchant per active day.",
    owner=OWNER,
    tags=TAGS,
    **CATALOG,
)

customer_features_source = IcebergSource(
    name="customer_features_source",
    namespace="features",
    table="customer_features",
    timestamp_field="feature_timestamp",
    description="dbt model features.customer_features: one row per customer per active day.",
    owner=OWNER,
    tags=TAGS,
    **CATALOG,
)
