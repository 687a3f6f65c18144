"""A small lake for the SQL endpoint: raw contract tables with PII, a curated table, a table of every type.

Each test module starts its own endpoint (real HTTP on a free port, in a background thread) over its own data
home, with the rules file below unless it asks for other settings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import trino
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from lake.catalog import load_catalog
from lake.contracts import get_contract
from lake.settings import Settings, load_settings
from serving.sql.server import BackgroundServer
from tests.conftest import clean_environment

CUSTOMERS = [
    ("c1", "Ada Lovelace", "ada@example.com", 1990, 52.37, 4.89, "NL", datetime(2024, 1, 1, 9, tzinfo=UTC)),
    ("c2", "Alan Turing", "alan@example.com", 1985, 51.50, -0.12, "GB", datetime(2024, 1, 2, 9, tzinfo=UTC)),
    ("c3", "Grace Hopper", "grace@example.com", 1970, 40.71, -74.0, "US", datetime(2024, 1, 3, 9, tzinfo=UTC)),
]
CARDS = [
    ("k1", "c1", "4111111111111111", "credit", 500_000, datetime(2024, 1, 5, tzinfo=UTC)),
    ("k2", "c2", "5500000000000004", "debit", 0, datetime(2024, 1, 6, tzinfo=UTC)),
    ("k3", "c3", "340000000000009", "prepaid", 10_000, datetime(2024, 1, 7, tzinfo=UTC)),
]

TEST_RULES: dict[str, Any] = {
    "catalogs": [
        {"user": "admin", "catalog": ".*", "allow": "all"},
        {"user": "nobody", "catalog": ".*", "allow": "none"},
        {"catalog": "lake|system", "allow": "read-only"},
    ],
    "schemas": [{"user": "admin", "owner": True}, {"owner": False}],
    "tables": [
        {"user": "admin", "privileges": ["SELECT"]},
        {
            "group": "analyst",
            "catalog": "lake",
            "schema": "curated",
            "table": "customers",
            "privileges": ["SELECT"],
            "columns": [
                {"name": "full_name", "allow": False},
                {"name": "email", "mask": "regexp_replace(email, '^[^@]+', '***')"},
            ],
            "filter": "home_country <> 'US'",
        },
        {"group": "analyst", "catalog": "lake", "schema": "curated", "table": "all_types", "privileges": ["SELECT"]},
        {
            "user": "carol",
            "catalog": "lake",
            "schema": "raw",
            "table": "cards",
            "privileges": ["SELECT"],
            "columns": [{"name": "card_number", "mask": "'****' || substr(card_number, -4)"}],
            "filter": "customer_id = current_user",
            "filter_environment": {"user": "c2"},
        },
        {"user": "carol", "catalog": "lake", "schema": "raw", "table": "customers", "privileges": ["SELECT"]},
        {"group": "ml", "catalog": "lake", "schema": "curated", "privileges": ["SELECT"]},
        {
            "catalog": "lake",
            "schema": "ops",
            "table": "query_log",
            "privileges": ["SELECT"],
            "filter": "user_name = current_user",
        },
    ],
}
TEST_GROUPS = "analyst:alice,dave\nml:bob\n"


def _rows(schema: pa.Schema, rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in rows], schema=schema)


def write_contract_table(catalog: Catalog, name: str, rows: list[tuple[Any, ...]]) -> None:
    """Create ``raw.<name>`` from its contract and append ``rows``."""
    contract = get_contract(name)
    table = catalog.create_table(
        contract.table_name, contract.iceberg_schema(), partition_spec=contract.partition_spec()
    )
    table.append(_rows(contract.arrow_schema(), rows))


ALL_TYPES_SCHEMA = Schema(
    NestedField(1, "c_varchar", StringType(), required=False),
    NestedField(2, "c_bigint", LongType(), required=False),
    NestedField(3, "c_integer", IntegerType(), required=False),
    NestedField(4, "c_real", FloatType(), required=False),
    NestedField(5, "c_double", DoubleType(), required=False),
    NestedField(6, "c_boolean", BooleanType(), required=False),
    NestedField(7, "c_date", DateType(), required=False),
    NestedField(8, "c_time", TimeType(), required=False),
    NestedField(9, "c_timestamp", TimestampType(), required=False),
    NestedField(10, "c_timestamptz", TimestamptzType(), required=False),
    NestedField(11, "c_decimal", DecimalType(10, 2), required=False),
    NestedField(12, "c_varbinary", BinaryType(), required=False),
    NestedField(13, "c_uuid", UUIDType(), required=False),
    NestedField(14, "c_array", ListType(100, LongType(), element_required=False), required=False),
    NestedField(15, "c_map", MapType(101, StringType(), 102, LongType(), value_required=False), required=False),
    NestedField(
        16,
        "c_row",
        StructType(
            NestedField(103, "a", IntegerType(), required=False), NestedField(104, "b", StringType(), required=False)
        ),
        required=False,
    ),
)
ALL_TYPES_ROW: dict[str, Any] = {
    "c_varchar": "héllo",
    "c_bigint": 2**40,
    "c_integer": 7,
    "c_real": 1.5,
    "c_double": 2.25,
    "c_boolean": True,
    "c_date": date(2024, 2, 29),
    "c_time": time(12, 34, 56, 789000),
    "c_timestamp": datetime(2024, 1, 2, 3, 4, 5, 123456),
    "c_timestamptz": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    "c_decimal": Decimal("12345678.90"),
    "c_varbinary": b"\x00\x01\xff",
    "c_uuid": uuid.UUID("12151fd2-7586-11e9-8f9e-2a86e4085a59"),
    "c_array": [1, None, 3],
    "c_map": {"k": 1, "n": None},
    "c_row": {"a": 1, "b": "x"},
}


def write_all_types_table(catalog: Catalog) -> None:
    """``curated.all_types``: one row with a value in every column, one row of nulls."""
    table = catalog.create_table("curated.all_types", ALL_TYPES_SCHEMA)
    arrow = table.schema().as_arrow()
    stored = {**ALL_TYPES_ROW, "c_uuid": ALL_TYPES_ROW["c_uuid"].bytes, "c_map": list(ALL_TYPES_ROW["c_map"].items())}
    table.append(pa.Table.from_pylist([stored, dict.fromkeys(stored)], schema=arrow))


def write_curated_customers(catalog: Catalog) -> None:
    """``curated.customers`` with PII columns, written in two snapshots (time travel reads the first)."""
    schema = pa.schema(
        [
            ("customer_id", pa.large_string()),
            ("full_name", pa.large_string()),
            ("email", pa.large_string()),
            ("home_country", pa.large_string()),
            ("birth_year", pa.int32()),
        ]
    )
    table = catalog.create_table("curated.customers", schema)
    first = [(c[0], c[1], c[2], c[6], c[3]) for c in CUSTOMERS]
    table.append(_rows(schema, first))
    table.append(_rows(schema, [("c4", "Edsger Dijkstra", "edsger@example.com", "NL", 1930)]))


def build_lake(catalog: Catalog) -> None:
    """Every table the SQL endpoint tests read."""
    write_contract_table(catalog, "customers", CUSTOMERS)
    write_contract_table(catalog, "cards", CARDS)
    write_curated_customers(catalog)
    write_all_types_table(catalog)


def endpoint_settings(home: Path, **sql: Any) -> Settings:
    """Embedded-profile settings under ``home`` with the test rules and groups (overridable per module)."""
    home.mkdir(parents=True, exist_ok=True)
    rules = home / "rules.json"
    rules.write_text(json.dumps(TEST_RULES))
    groups = home / "group.txt"
    groups.write_text(TEST_GROUPS)
    return load_settings(home=home, sql={"rules_file": rules, "group_file": groups, **sql})


@pytest.fixture(scope="module")
def lake_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of this module's lake, with the tables of :func:`build_lake` written."""
    with clean_environment():
        settings = endpoint_settings(tmp_path_factory.mktemp("sql") / "home")
        build_lake(load_catalog(settings))
        yield settings


@pytest.fixture(scope="module")
def endpoint(lake_settings: Settings) -> Iterator[BackgroundServer]:
    """This module's running endpoint."""
    with BackgroundServer(lake_settings) as server:
        yield server


Connect = Callable[..., trino.dbapi.Connection]


@pytest.fixture(scope="module")
def connect(endpoint: BackgroundServer) -> Connect:
    """Open a ``trino`` DB-API connection to the module's endpoint as ``user`` (default ``admin``)."""

    def open_connection(user: str = "admin", **kwargs: Any) -> trino.dbapi.Connection:
        kwargs.setdefault("catalog", "lake")
        return trino.dbapi.connect(host="127.0.0.1", port=endpoint.port, user=user, **kwargs)

    return open_connection


def fetch(connection: trino.dbapi.Connection, sql: str, params: list[Any] | None = None) -> list[list[Any]]:
    """Run one statement and return every row."""
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return cursor.fetchall()


ALL_TYPES_VALUES = "curated.all_types WHERE c_date IS NOT NULL"
"""The row of ``curated.all_types`` that has values (:data:`ALL_TYPES_ROW`)."""


def select_value(connect: Connect, expression: str, source: str = ALL_TYPES_VALUES) -> tuple[Any, str]:
    """``SELECT expression FROM source`` (one row) as admin: its value and the Trino type the endpoint names."""
    cursor = connect().cursor()
    cursor.execute(f"SELECT {expression} FROM {source}")
    [[value]] = cursor.fetchall()
    return value, cursor.description[0][1]
