"""The business objects features describe; their join keys are the ids the dbt feature models carry."""

from feast import Entity, ValueType

TAGS = {"team": "fraud", "pii": "false"}

card = Entity(
    name="card",
    join_keys=["card_id"],
    value_type=ValueType.STRING,
    description="A payment card; the unit fraud is scored on.",
    owner="fraud-ml@lakeforge.dev",
    tags=TAGS,
)

merchant = Entity(
    name="merchant",
    join_keys=["merchant_id"],
    value_type=ValueType.STRING,
    description="A merchant accepting card payments.",
    owner="fraud-ml@lakeforge.dev",
    tags=TAGS,
)

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A customer holding one or more cards.",
    owner="fraud-ml@lakeforge.dev",
    tags=TAGS,
)
