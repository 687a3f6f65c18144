"""A tiny raw lake built by hand, and a helper that runs dbt on it with its output kept out of the checkout."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from lake.catalog import load_catalog
from lake.contracts import load_contracts
from lake.dbt_runner import DbtRun, run_dbt
from lake.settings import Settings, get_settings
from tests.conftest import clean_environment

START = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("grocery", "restaurant", "fuel", "travel", "electronics")
CUSTOMERS = [
    {
        "customer_id": f"cu{i}",
        "full_name": f"Person Number{i}",
        "email": f"person{i}@example.org",
        "birth_year": 1970 + i,
        "home_lat": 48.0 + i / 10,
        "home_lon": 2.0 + i / 10,
        "home_country": "FR",
        "created_at": START - timedelta(days=100 + i),
    }
    for i in range(4)
]
CARDS = [
    {
        "card_id": f"ca{i}",
        "customer_id": f"cu{i % 4}",
        "card_number": f"4000123412340{i:03d}",
        "card_type": ("credit", "debit", "prepaid")[i % 3],
        "credit_limit_cents": 100_000 * (i + 1),
        "issued_at": START - timedelta(days=50 - i),
    }
    for i in range(6)
]
MERCHANTS = [
    {
        "merchant_id": f"me{i}",
        "merchant_name": f"Shop {i}",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "lat": 48.5 + i / 5,
        "lon": 2.5 - i / 5,
        "country": "FR",
        "created_at": START - timedelta(days=365),
    }
    for i in range(5)
]
TRANSACTIONS_PER_DAY = 30


def transactions_of_day(day: int) -> list[dict[str, Any]]:
    """Deterministic transactions of day ``day`` (0 = 2026-01-01): bursts on some cards, all channels."""
    rng = random.Random(day)
    rows = []
    for i in range(TRANSACTIONS_PER_DAY):
        rows.append(
            {
                "transaction_id": f"tx{day:02d}{i:03d}",
                "card_id": CARDS[rng.randrange(len(CARDS))]["card_id"],
                "merchant_id": MERCHANTS[rng.randrange(len(MERCHANTS))]["merchant_id"],
                "amount_cents": rng.randrange(100, 50_000),
                "currency": "EUR",
                "channel": ("pos", "online", "atm")[i % 3],
                "lat": None if i % 7 == 0 else 48.0 + rng.random(),
                "lon": None if i % 7 == 0 else 2.0 + rng.random(),
                "transaction_at": START + timedelta(days=day, minutes=rng.randrange(24 * 60)),
            }
        )
    return rows


def chargebacks_of_day(day: int) -> list[dict[str, Any]]:
    """Two chargebacks reported at noon of ``day`` against transactions of the day before."""
    if day == 0:
        return []
    return [
        {
            "chargeback_id": f"cb{day:02d}{i}",
            "transaction_id": f"tx{day - 1:02d}{i * 5:03d}",
            "reason_code": "fraud_card_absent",
            "amount_cents": 1_000,
            "reported_at": START + timedelta(days=day, hours=12),
        }
        for i in range(2)
    ]


def append_raw(catalog: Catalog, table: str, rows: list[dict[str, Any]]) -> None:
    """Append rows to ``raw.<table>``, creating it from its contract first if needed."""
    contract = load_contracts()[table]
    try:
        iceberg_table = catalog.load_table(contract.table_name)
    except NoSuchTableError:
        iceberg_table = catalog.create_table(
            contract.table_name, contract.iceberg_schema(), partition_spec=contract.partition_spec()
        )
    iceberg_table.append(pa.Table.from_pylist(rows, schema=contract.arrow_schema()))


def land_days(catalog: Catalog, days: range) -> None:
    """Land the reference data (once) and the transactions and chargebacks of ``days``."""
    if days.start == 0:
        append_raw(catalog, "customers", CUSTOMERS)
        append_raw(catalog, "cards", CARDS)
        append_raw(catalog, "merchants", MERCHANTS)
    append_raw(catalog, "transactions", [row for day in days for row in transactions_of_day(day)])
    append_raw(catalog, "chargebacks", [row for day in days for row in chargebacks_of_day(day)])


class DbtLake:
    """One isolated data home with its catalog, and dbt runs whose target/ and logs/ live under it."""

    def __init__(self, settings: Settings, work: Path) -> None:
        self.settings = settings
        self.catalog = load_catalog(settings)
        self.work = work

    def dbt(self, *args: str) -> DbtRun:
        """Run dbt with ``args``, keeping its target and log folders out of the shared checkout."""
        return run_dbt([*args, "--target-path", str(self.work / "target"), "--log-path", str(self.work / "logs")])

    def read(self, name: str) -> pa.Table:
        """The published contents of ``name``, sorted by every column so two reads compare equal."""
        table = self.catalog.load_table(name).scan().to_arrow()
        return table.sort_by([(column, "ascending") for column in table.column_names])


@pytest.fixture(scope="module")
def dbt_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtLake]:
    """An empty embedded lake for one test module (dbt runs cost seconds, so modules share one)."""
    work = tmp_path_factory.mktemp("dbt")
    with clean_environment(work / "home"):
        yield DbtLake(get_settings(), work)
