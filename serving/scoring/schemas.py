"""Request and response models of the scoring API.

The request model is derived from the ``raw.transactions`` contract, so the event an app sends for scoring is
field for field the event that later lands in the lake: same names, types, allowed values and ranges.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from lake.contracts import Column, get_contract

TRANSACTIONS_TABLE = "transactions"
"""The raw table whose rows are scored."""

_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "long": int,
    "int": int,
    "double": float,
    "boolean": bool,
    "date": date,
    "timestamptz": AwareDatetime,
}

Decision = Literal["approve", "review", "decline"]
Entity = Literal["card", "merchant", "customer"]


def _field_definition(column: Column) -> tuple[Any, Any]:
    annotation: Any = Literal[tuple(column.allowed)] if column.allowed else _PYTHON_TYPES[column.type]
    if column.nullable:
        annotation = annotation | None
    default = None if column.nullable else ...
    return annotation, Field(default, ge=column.min, le=column.max, description=column.description)


def transaction_model() -> type[BaseModel]:
    """A pydantic model with one field per column of the ``raw.transactions`` contract (extra fields refused)."""
    contract = get_contract(TRANSACTIONS_TABLE)
    fields = {name: _field_definition(column) for name, column in contract.columns.items()}
    model = create_model(  # type: ignore[call-overload]
        "Transaction", __config__=ConfigDict(extra="forbid"), __doc__=contract.description, **fields
    )
    return model


Transaction = transaction_model()
"""One card authorization, as the payment system sends it (the ``raw.transactions`` contract)."""


class Reason(BaseModel):
    """One feature's push on this score (XGBoost's per-prediction contribution, in log-odds)."""

    feature: str
    value: float | None = Field(description="The feature value used; null when it was missing.")
    contribution: float = Field(description="Log-odds added to the score; positive pushes towards fraud.")


class Freshness(BaseModel):
    """How current one feature view's values were."""

    view: str
    value_time: datetime | None = Field(description="Event time of the value used; null when none was found.")
    materialized_until: datetime | None = Field(description="End of the view's last materialization.")


class Score(BaseModel):
    """The answer for one transaction."""

    request_id: str = Field(description="Id of this scoring, as logged in ml.predictions.")
    transaction_id: str
    fraud_probability: float = Field(ge=0.0, le=1.0)
    decision: Decision = Field(description="From the model version's review and decline thresholds.")
    model_version: int
    reasons: list[Reason] = Field(description="The features that moved this score most, strongest first.")
    unknown_entities: list[Entity] = Field(
        description="Entities without online features: scored with the model's defaults for missing values."
    )
    freshness: list[Freshness]


class BatchRequest(BaseModel):
    """Many transactions scored in one call."""

    transactions: list[Transaction]  # type: ignore[valid-type]


class BatchScore(BaseModel):
    """One answer per transaction, in request order."""

    scores: list[Score]


class Problem(BaseModel):
    """An error answer."""

    detail: str


class Health(BaseModel):
    """Liveness and readiness."""

    status: Literal["ok", "not ready"]
    model_version: int | None = None
    detail: str | None = None
