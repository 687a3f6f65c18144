"""Table contracts: the readable YAML in this folder, turned into Arrow and Iceberg schemas.

A contract names a raw table's columns, types, nullability, allowed values and ranges, primary key, event-time
column and partitioning. Ingestion checks rows against it; the generator writes files that satisfy it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ValidationError, model_validator
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from lake.errors import ContractError

CONTRACTS_FILE = Path(__file__).with_name("raw.yml")
RAW_NAMESPACE = "raw"

ColumnType = Literal["string", "long", "int", "double", "boolean", "date", "timestamptz"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.large_string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
ICEBERG_TYPES: dict[str, IcebergType] = {
    "string": StringType(),
    "long": LongType(),
    "int": IntegerType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "date": DateType(),
    "timestamptz": TimestamptzType(),
}


class Column(BaseModel, extra="forbid"):
    """One column of a contract."""

    type: ColumnType
    nullable: bool = False
    allowed: list[str] | None = None
    min: float | None = None
    max: float | None = None
    pii: bool = False
    description: str | None = None


class Contract(BaseModel, extra="forbid"):
    """What a raw table accepts."""

    name: str
    description: str
    primary_key: list[str]
    event_time: str
    partition_by_day: bool = False
    columns: dict[str, Column]

    @model_validator(mode="after")
    def _keys_are_columns(self) -> Contract:
        for key in [*self.primary_key, self.event_time]:
            if key not in self.columns:
                raise ValueError(f"{key!r} is named as a key but is not a column")
        if self.columns[self.event_time].type != "timestamptz":
            raise ValueError(f"event-time column {self.event_time!r} must be timestamptz")
        return self

    @property
    def table_name(self) -> str:
        """The Iceberg identifier, ``raw.<name>``."""
        return f"{RAW_NAMESPACE}.{self.name}"

    @property
    def pii_columns(self) -> list[str]:
        """Columns whose clear values must never leave the raw layer."""
        return [name for name, column in self.columns.items() if column.pii]

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the table, in contract order."""
        return pa.schema(
            [pa.field(name, ARROW_TYPES[col.type], nullable=col.nullable) for name, col in self.columns.items()]
        )

    def iceberg_schema(self) -> Schema:
        """The Iceberg schema, field ids 1..n in contract order, primary key as identifier fields."""
        fields = [
            NestedField(i, name, ICEBERG_TYPES[col.type], required=not col.nullable, doc=col.description)
            for i, (name, col) in enumerate(self.columns.items(), start=1)
        ]
        ids = [i for i, name in enumerate(self.columns, start=1) if name in self.primary_key]
        return Schema(*fields, identifier_field_ids=ids)

    def partition_spec(self) -> PartitionSpec:
        """Day of event time where the contract asks for it, otherwise unpartitioned."""
        if not self.partition_by_day:
            return PartitionSpec()
        source_id = list(self.columns).index(self.event_time) + 1
        return PartitionSpec(
            PartitionField(source_id=source_id, field_id=1000, transform=DayTransform(), name=f"{self.event_time}_day")
        )


@cache
def load_contracts(path: Path = CONTRACTS_FILE) -> dict[str, Contract]:
    """Every contract in the file, by table name (without namespace).

    Raises:
        ContractError: the file is not valid YAML or a contract is malformed; the message names the table.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ContractError(f"cannot read contracts file {path}: {error}") from None
    contracts = {}
    for name, body in document.items():
        try:
            contracts[name] = Contract(name=name, **body)
        except (TypeError, ValidationError) as error:
            raise ContractError(f"contract {name!r} in {path} is malformed: {error}") from None
    return contracts


def get_contract(table: str) -> Contract:
    """The contract of ``raw.<table>`` or ``<table>``.

    Raises:
        ContractError: no contract has that name; the message lists those that exist.
    """
    contracts = load_contracts()
    name = table.removeprefix(f"{RAW_NAMESPACE}.")
    if name not in contracts:
        raise ContractError(f"no contract for table {table!r}; known raw tables: {', '.join(contracts)}")
    return contracts[name]
