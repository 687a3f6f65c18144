"""The fraud data generator: contracts, determinism, day-at-a-time equivalence, formats and learnable fraud."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lake.contracts import load_contracts
from lake.errors import GenerateError
from lake.generate import write_landing_files
from lakeforge.cli import app

ROWS, DAYS, SEED = 30_000, 30, 5
START = date(2026, 1, 1)
FILE_NAME = re.compile(r"^(customers|cards|merchants|transactions|chargebacks)(-d\d{4})?\.(parquet|csv|jsonl)$")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """One realistic-size run shared by the read-only tests of this module."""
    return write_landing_files(tmp_path_factory.mktemp("landing"), ROWS, DAYS, SEED)


@pytest.fixture(scope="module")
def lake(landing: dict[str, list[Path]]) -> duckdb.DuckDBPyConnection:
    """DuckDB views over the generated files, plus ``tx``: transactions labelled by their chargebacks."""
    connection = duckdb.connect()
    for table, paths in landing.items():
        connection.execute(f"create view {table} as select * from read_parquet({[str(p) for p in paths]})")
    connection.execute(
        """create table tx as
           select t.*, c.customer_id, m.category, cb.transaction_id is not null as fraud
           from transactions t join cards c using (card_id) join merchants m using (merchant_id)
           left join chargebacks cb using (transaction_id)"""
    )
    return connection


def scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> float:
    row = connection.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_files_are_named_for_the_ingester_and_carry_the_contract_schema(landing: dict[str, list[Path]]) -> None:
    contracts = load_contracts()
    assert set(landing) == set(contracts)
    assert [len(landing[table]) for table in ("customers", "cards", "merchants", "transactions")] == [1, 1, 1, DAYS]
    assert DAYS - 5 <= len(landing["chargebacks"]) < DAYS  # none on day 0; a day without any writes no file
    for table, paths in landing.items():
        for path in paths:
            assert FILE_NAME.match(path.name) and path.name.split("-")[0].split(".")[0] == table
            assert pq.read_schema(path).remove_metadata() == contracts[table].arrow_schema()
    assert not [p for p in landing["customers"][0].parent.iterdir() if p.name.startswith(".")]


def test_every_row_satisfies_its_contract(lake: duckdb.DuckDBPyConnection) -> None:
    for table, contract in load_contracts().items():
        rows = scalar(lake, f"select count(*) from {table}")
        assert rows > 0
        key = ", ".join(contract.primary_key)
        assert scalar(lake, f"select count(distinct ({key})) from {table}") == rows, f"{table} key not unique"
        for name, column in contract.columns.items():
            broken = [] if column.nullable else [f"{name} is null"]
            if column.allowed is not None:
                broken.append(f"{name} not in ({', '.join(repr(v) for v in column.allowed)})")
            if column.min is not None:
                broken.append(f"{name} < {column.min}")
            if column.max is not None:
                broken.append(f"{name} > {column.max}")
            for condition in broken:
                assert scalar(lake, f"select count(*) from {table} where {condition}") == 0, f"{table}: {condition}"


def test_references_resolve_and_rows_add_up(lake: duckdb.DuckDBPyConnection) -> None:
    assert scalar(lake, "select count(*) from transactions") == ROWS
    assert scalar(lake, "select count(*) from tx") == ROWS
    assert scalar(lake, "select count(*) from cards anti join customers using (customer_id)") == 0
    assert scalar(lake, "select count(*) from chargebacks anti join transactions using (transaction_id)") == 0
    first, last = lake.execute("select min(transaction_at), max(transaction_at) from transactions").fetchone() or ()
    assert first.date() == START and last.date() == START + timedelta(days=DAYS - 1)


def test_ids_are_unique_and_each_days_fill_a_range_after_the_day_before(landing: dict[str, list[Path]]) -> None:
    """Time-ordered ids: a lookup of one day's ids can skip every other day's files by their min/max statistics."""
    ranges = []
    for path in sorted(landing["transactions"]):
        ids = pq.read_table(path, columns=["transaction_id"]).column(0).to_pylist()
        assert len(set(ids)) == len(ids)
        ranges.append((min(ids), max(ids)))
    assert len(ranges) == DAYS
    assert all(earlier[1] < later[0] for earlier, later in pairwise(ranges))
    chargeback_ids = pl.read_parquet(landing["chargebacks"], columns=["chargeback_id"])["chargeback_id"]
    assert chargeback_ids.n_unique() == len(chargeback_ids) > 0


def test_card_numbers_are_unique_luhn_valid_16_digits(lake: duckdb.DuckDBPyConnection) -> None:
    numbers = [row[0] for row in lake.execute("select card_number from cards").fetchall()]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert re.fullmatch(r"\d{16}", number)
        digits = [int(d) for d in reversed(number)]
        total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
        assert total % 10 == 0, number


def test_fraud_rate_is_realistic(lake: duckdb.DuckDBPyConnection) -> None:
    # Days whose chargebacks have all arrived within the period (the longest delay is 30 days).
    settled = scalar(lake, "select avg(fraud::int) from tx where transaction_at < timestamptz '2026-01-11 00:00:00+00'")
    assert 0.005 <= settled <= 0.02


def test_chargebacks_arrive_one_to_thirty_days_after_their_transaction(lake: duckdb.DuckDBPyConnection) -> None:
    shortest, longest, same_amount = (
        lake.execute(
            """select min(reported_at - transaction_at), max(reported_at - transaction_at),
                      bool_and(c.amount_cents = t.amount_cents)
               from chargebacks c join transactions t using (transaction_id)"""
        ).fetchone()
        or ()
    )
    assert timedelta(days=1) <= shortest and longest <= timedelta(days=30) and same_amount
    assert scalar(lake, "select max(reported_at) from chargebacks").date() < START + timedelta(days=DAYS)


def test_transaction_times_follow_daily_and_weekly_seasonality(lake: duckdb.DuckDBPyConnection) -> None:
    night = scalar(lake, "select count(*) from tx where not fraud and hour(transaction_at) between 1 and 4")
    evening = scalar(lake, "select count(*) from tx where not fraud and hour(transaction_at) between 17 and 20")
    assert evening > 8 * night
    per_weekday = """select avg(n) from (select count(*) n from tx where dayofweek(transaction_at) = {}
                                         group by transaction_at::date)"""
    saturday, sunday = scalar(lake, per_weekday.format(6)), scalar(lake, per_weekday.format(0))
    assert saturday > 1.3 * sunday


def test_amounts_are_heavy_tailed(lake: duckdb.DuckDBPyConnection) -> None:
    median, p999 = (
        lake.execute("select median(amount_cents), quantile_cont(amount_cents, 0.999) from tx").fetchone() or ()
    )
    assert p999 > 15 * median


def test_fraud_spikes_against_the_cards_own_typical_amount(lake: duckdb.DuckDBPyConnection) -> None:
    spike = """select avg((amount_cents > 5 * typical)::int) from tx
               join (select card_id, median(amount_cents) typical from tx group by 1) using (card_id)
               where fraud = {}"""
    fraud_share, legit_share = scalar(lake, spike.format("true")), scalar(lake, spike.format("false"))
    assert fraud_share > 0.15 and fraud_share > 10 * legit_share


def test_card_testing_bursts_exist_and_are_fraud(lake: duckdb.DuckDBPyConnection) -> None:
    burst = """select avg((amount_cents < 500 and n >= 3)::int) from (
                 select *, count(*) over (partition by card_id order by transaction_at
                   range between interval 10 minutes preceding and interval 10 minutes following) n from tx)
               where fraud = {}"""
    fraud_share, legit_share = scalar(lake, burst.format("true")), scalar(lake, burst.format("false"))
    assert fraud_share > 0.1 and legit_share < 0.005


def test_fraud_happens_far_from_home_and_in_new_categories(lake: duckdb.DuckDBPyConnection) -> None:
    far = """select avg((6371 * 2 * asin(sqrt(pow(sin(radians(lat - home_lat) / 2), 2)
                 + cos(radians(lat)) * cos(radians(home_lat)) * pow(sin(radians(lon - home_lon) / 2), 2))) > 500)::int)
             from tx join customers using (customer_id) where lat is not null and fraud = {}"""
    assert scalar(lake, far.format("true")) > 5 * scalar(lake, far.format("false"))
    new_category = """select avg((not exists (select 1 from tx earlier where earlier.card_id = tx.card_id
                         and earlier.category = tx.category and earlier.transaction_at < tx.transaction_at))::int)
                      from tx where transaction_at > timestamptz '2026-01-15 00:00:00+00' and fraud = {}"""
    assert scalar(lake, new_category.format("true")) > 3 * scalar(lake, new_category.format("false"))


def test_breached_merchants_show_up_as_a_common_point_of_purchase(lake: duckdb.DuckDBPyConnection) -> None:
    # Share of a shop's visiting cards that see fraud within 10 days of a visit: the worst shop stands out, and
    # it stops standing out when the same fraud histories are dealt to other cards at random.
    lake.execute("create or replace table frauds as select card_id, transaction_at from tx where fraud")
    lake.execute(
        """create or replace table frauds_dealt_at_random as
           select dealt.card_id, frauds.transaction_at from frauds
           join (select card_id, row_number() over (order by card_id) n from cards) original using (card_id)
           join (select card_id, row_number() over (order by hash(card_id, 'deal')) n from cards) dealt using (n)"""
    )
    worst_shop = """select max(defrauded / visitors) from (
        select merchant_id, count(distinct card_id) visitors, count(distinct card_id) filter (where exists (
          select 1 from {} f where f.card_id = v.card_id
            and f.transaction_at between v.transaction_at and v.transaction_at + interval 10 days)) defrauded
        from tx v where not fraud group by all having count(distinct card_id) >= 10)"""
    assert scalar(lake, worst_shop.format("frauds")) >= 0.6
    assert scalar(lake, worst_shop.format("frauds_dealt_at_random")) < 0.5


def read_all(folder: Path) -> dict[str, pl.DataFrame]:
    return {path.name: pl.read_parquet(path) for path in sorted(folder.iterdir())}


def test_same_seed_same_data_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        write_landing_files(tmp_path / name, 3_000, 4, seed)
    first, again, other = read_all(tmp_path / "a"), read_all(tmp_path / "b"), read_all(tmp_path / "c")
    assert first.keys() == again.keys()
    for name, frame in first.items():
        assert frame.equals(again[name]), name
    assert not first["transactions-d0001.parquet"].equals(other["transactions-d0001.parquet"])
    assert not first["customers.parquet"].equals(other["customers.parquet"])


def test_day_at_a_time_writes_exactly_what_a_full_run_writes(tmp_path: Path) -> None:
    rows, days = 12_000, 12
    full = write_landing_files(tmp_path / "full", rows, days, SEED)
    for day in range(days):
        daily = write_landing_files(tmp_path / "daily", rows, days, SEED, start_day=day)
        assert [p.name for p in daily["transactions"]] == [f"transactions-d{day:04d}.parquet"]
        assert bool(daily["customers"]) == (day == 0)
    assert sum(len(paths) for paths in full.values()) == len(list((tmp_path / "daily").iterdir()))
    whole, pieces = read_all(tmp_path / "full"), read_all(tmp_path / "daily")
    assert whole.keys() == pieces.keys()
    for name, frame in whole.items():
        assert frame.equals(pieces[name]), name
    assert sum(frame.height for name, frame in whole.items() if name.startswith("chargebacks")) > 30


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_hold_the_same_rows_with_utc_offsets(tmp_path: Path, fmt: str) -> None:
    parquet = write_landing_files(tmp_path / "parquet", 2_000, 3, SEED)
    text = write_landing_files(tmp_path / fmt, 2_000, 3, SEED, fmt=fmt)
    for table, paths in text.items():
        for path, twin in zip(paths, parquet[table], strict=True):
            first_line = path.read_text().splitlines()[1 if fmt == "csv" else 0]
            assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", first_line), first_line
            if fmt == "jsonl":
                json.loads(first_line)
            expected = pl.read_parquet(twin)
            schema = {
                name: pl.String if dtype == pl.Datetime("us", "UTC") else dtype
                for name, dtype in expected.schema.items()
            }
            read = pl.read_csv(path, schema=schema) if fmt == "csv" else pl.read_ndjson(path, schema=schema)
            parsed = read.with_columns(
                pl.col(name).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us")
                for name, dtype in expected.schema.items()
                if dtype == pl.Datetime("us", "UTC")
            )
            assert parsed.equals(expected), path.name


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"fmt": "xml"}, "unknown format 'xml'"),
        ({"rows": 0}, "rows must be at least 1"),
        ({"days": 0}, "days must be at least 1"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"start_day": 5}, "start day 5 is outside the period; use 0..4"),
    ],
)
def test_bad_requests_name_the_problem_and_write_nothing(tmp_path: Path, arguments: dict, message: str) -> None:
    request = {"out": tmp_path / "out", "rows": 100, "days": 5, "seed": 1} | arguments
    with pytest.raises(GenerateError, match=re.escape(message)):
        write_landing_files(**request)
    assert not (tmp_path / "out").exists()


def test_output_path_that_is_a_file_is_refused_and_kept(tmp_path: Path) -> None:
    occupied = tmp_path / "notes.txt"
    occupied.write_text("keep me")
    with pytest.raises(GenerateError, match="exists and is not a folder"):
        write_landing_files(occupied, 100, 2, 1)
    assert occupied.read_text() == "keep me"


def test_cli_writes_the_files_and_reports_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["generate", "--rows", "2000", "--days", "3", "--seed", "9", "--out", str(tmp_path), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert "transactions-d0000.csv" in result.output
    assert sorted(p.name for p in tmp_path.glob("transactions-*.csv")) == [
        f"transactions-d000{d}.csv" for d in range(3)
    ]
