"""Ingestion on the embedded profile: every row lands once (table or quarantine), batches are idempotent."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from lake.errors import IngestError
from lake.ingest import INGESTED, REJECTED, SKIPPED, ingest_path
from lake.settings import Settings
from tests.lake.ingest.landing import transactions, write

FORMATS = ("parquet", "csv", "jsonl")


def read(catalog: Catalog, name: str) -> pl.DataFrame:
    return pl.DataFrame(catalog.load_table(name).scan().to_arrow())


def quarantined(catalog: Catalog) -> pl.DataFrame:
    return read(catalog, "raw.transactions_quarantine").sort("source_file", "row_number")


@pytest.mark.parametrize("fmt", FORMATS)
def test_good_rows_append_bad_rows_quarantine_with_originals(
    fmt: str, tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    frame = transactions(
        6, amount_cents=[100, 0, 300, 400, 500, 600], currency=["EUR", "EUR", "JPY", "USD", "GBP", "EUR"]
    )
    path = write(frame, tmp_path / f"transactions.{fmt}")

    [batch] = ingest_path(path, settings=settings).batches

    assert (batch.status, batch.rows_read, batch.rows_appended, batch.rows_quarantined) == (INGESTED, 6, 4, 2)
    assert batch.quarantine_reasons == {"amount_cents: below min 1": 1, "currency: not one of EUR, USD, GBP": 1}
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw["transaction_id"].to_list() == ["t00000", "t00003", "t00004", "t00005"]
    assert raw["transaction_at"].dtype == pl.Datetime("us", "UTC")
    expected = frame.filter(pl.col("transaction_id").is_in(raw["transaction_id"].implode()))
    assert raw["transaction_at"].to_list() == expected["transaction_at"].to_list()
    bad = quarantined(catalog)
    assert bad["row_number"].to_list() == [2, 3]
    assert bad["reason"].to_list() == ["amount_cents: below min 1", "currency: not one of EUR, USD, GBP"]
    assert str(json.loads(bad["original"][0])["amount_cents"]) == "0"
    assert json.loads(bad["original"][1])["currency"] == "JPY"
    assert set(bad["batch_id"]) == {batch.batch_id}
    assert set(bad["source_file"]) == {str(path.resolve())}


def test_same_file_twice_appends_nothing(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    path = write(transactions(5), tmp_path / "transactions.parquet")
    first = ingest_path(path, settings=settings).batches[0]
    again = ingest_path(path, settings=settings).batches[0]

    assert (again.status, again.rows_appended, again.batch_id) == (SKIPPED, 0, first.batch_id)
    assert read(catalog, "raw.transactions").height == 5
    batches = read(catalog, "ops.ingest_batches")
    assert batches.height == 1
    record = batches.row(0, named=True)
    assert (record["rows_read"], record["rows_appended"], record["rows_quarantined"]) == (5, 5, 0)
    assert record["raw_snapshot_id"] == catalog.load_table("raw.transactions").metadata.current_snapshot_id
    assert record["file_sha256"] == first.file_sha256 and record["ingested_by"] and record["duration_s"] > 0


def test_duplicate_keys_within_the_file_and_against_the_table(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    ingest_path(write(transactions(4), tmp_path / "transactions-1.parquet"), settings=settings)
    ids = ["t00002", "t00003", "t00010", "t00010", "t00011"]
    second = transactions(5, transaction_id=ids, amount_cents=[1, 2, 3, 4, 5])

    [batch] = ingest_path(write(second, tmp_path / "transactions-2.csv"), settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (2, 3)
    assert batch.quarantine_reasons == {
        "transaction_id: primary key already in raw.transactions": 2,
        "transaction_id: duplicate primary key within the file": 1,
    }
    raw = read(catalog, "raw.transactions")
    assert raw["transaction_id"].is_unique().all() and raw.height == 6
    assert raw.filter(pl.col("transaction_id") == "t00010")["amount_cents"].to_list() == [3]


def test_resent_rows_are_found_in_each_day_partition_they_touch(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    ingest_path(write(transactions(8), tmp_path / "transactions-1.parquet"), settings=settings)
    resent = transactions(8).filter(pl.col("transaction_id").is_in(["t00000", "t00007"]))
    late = pl.concat([resent, transactions(1, first=100)])

    [batch] = ingest_path(write(late, tmp_path / "transactions-2.parquet"), settings=settings).batches

    assert resent["transaction_at"].dt.date().n_unique() == 2
    assert batch.quarantine_reasons == {"transaction_id: primary key already in raw.transactions": 2}
    assert batch.rows_appended == 1


def test_a_key_resent_with_another_day_is_a_duplicate_of_the_whole_table(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    ingest_path(write(transactions(2), tmp_path / "transactions-1.csv"), settings=settings)
    moved = transactions(1).with_columns(pl.col("transaction_at") + timedelta(days=3))

    [batch] = ingest_path(write(moved, tmp_path / "transactions-2.csv"), settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (0, 1)
    assert batch.quarantine_reasons == {"transaction_id: primary key already in raw.transactions": 1}
    assert read(catalog, "raw.transactions")["transaction_id"].to_list() == ["t00000", "t00001"]


@pytest.mark.parametrize(
    ("column", "values", "reason"),
    [
        ("amount_cents", ["12", "abc", "1.5"], "amount_cents: not a valid long"),
        ("card_id", ["c1", None, None], "card_id: missing in a required column"),
        ("amount_cents", ["12", "100000001", "-4"], "amount_cents: above max 1e+08"),
        ("channel", ["pos", "branch", "phone"], "channel: not one of pos, online, atm"),
        (
            "transaction_at",
            ["2026-01-01T00:00:00Z", "yesterday", "2026-13-01T00:00:00Z"],
            "transaction_at: not a valid timestamp",
        ),
        (
            "transaction_at",
            ["2026-01-01T00:00:00+01:00", "2026-01-01T10:00:00", "2026-01-01 10:00"],
            "transaction_at: timestamp without UTC offset",
        ),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_bad_values_quarantine_rows_with_a_reason(
    fmt: str, column: str, values: list[str | None], reason: str, tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    frame = transactions(3).with_columns(pl.Series(column, values, pl.String))
    [batch] = ingest_path(write(frame, tmp_path / f"transactions.{fmt}"), settings=settings).batches

    assert batch.rows_appended == 1 and batch.rows_quarantined == 2
    assert reason in " ".join(batch.quarantine_reasons)
    bad = quarantined(catalog)
    assert bad["row_number"].to_list() == [2, 3]
    assert [json.loads(original)[column] for original in bad["original"]] == values[1:]


def test_parquet_string_into_long_column_quarantines_the_whole_file(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    frame = transactions(3, amount_cents=["12", "13", "14"])
    [batch] = ingest_path(write(frame, tmp_path / "transactions.parquet"), settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (0, 3)
    [reason] = batch.quarantine_reasons
    assert "column amount_cents is String in the file but Int64 in raw.transactions" in reason
    assert "lose data" in reason
    assert catalog.load_table("raw.transactions").current_snapshot() is None
    assert quarantined(catalog)["row_number"].to_list() == [1, 2, 3]


def test_parquet_timestamp_without_time_zone_quarantines_the_whole_file(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    frame = transactions(2).with_columns(pl.col("transaction_at").dt.replace_time_zone(None))
    [batch] = ingest_path(write(frame, tmp_path / "transactions.parquet"), settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (0, 2)
    assert list(batch.quarantine_reasons) == [
        "column transaction_at is a timestamp without time zone; write it with a UTC offset (tz=UTC)"
    ]


def test_parquet_columns_that_widen_losslessly_are_accepted(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    frame = transactions(3).with_columns(
        pl.col("amount_cents").cast(pl.Int32),
        pl.col("lat").cast(pl.Float32),
        pl.col("transaction_at").dt.convert_time_zone("Europe/Paris").dt.cast_time_unit("ns"),
    )
    [batch] = ingest_path(write(frame, tmp_path / "transactions.parquet"), settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (3, 0)
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw["amount_cents"].to_list() == [100, 101, 102]
    assert raw["transaction_at"].to_list() == transactions(3)["transaction_at"].to_list()


def test_missing_required_column_quarantines_the_whole_file(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    path = write(transactions(2).drop("currency", "lon"), tmp_path / "transactions.csv")
    [batch] = ingest_path(path, settings=settings).batches

    assert batch.quarantine_reasons == {"missing required column(s) currency": 2}


def test_a_column_named_in_another_case_is_pointed_out(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    path = write(transactions(2).rename({"currency": "Currency"}), tmp_path / "transactions.csv")
    [batch] = ingest_path(path, settings=settings).batches

    assert batch.quarantine_reasons == {
        "missing required column(s) currency (the file has Currency for currency: column names are case-sensitive)": 2
    }


def test_a_new_source_column_is_added_to_the_table(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    ingest_path(write(transactions(2), tmp_path / "transactions-1.parquet"), settings=settings)
    extra = transactions(2, first=10, device=["ios", None], risk=[0.5, 0.7])

    [batch] = ingest_path(write(extra, tmp_path / "transactions-2.parquet"), settings=settings).batches

    assert batch.added_columns == ["device", "risk"]
    table = catalog.load_table("raw.transactions")
    assert not table.schema().find_field("device").required
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw["device"].to_list() == [None, None, "ios", None]
    assert raw["risk"].to_list() == [None, None, 0.5, 0.7]
    assert json.loads(read(catalog, "ops.ingest_batches").sort("started_at")["added_columns"][1]) == ["device", "risk"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("transactions.csv", b"", "is empty"),
        (
            "transactions.jsonl",
            b'{"transaction_id": "t1", "card_id": "c1"}\n{"transaction_id": "t2", "car',
            "cannot be read",
        ),
        ("transactions.parquet", b"PAR1 not really parquet", "cannot be read as parquet"),
    ],
)
def test_unreadable_files_are_rejected_whole(
    name: str, content: bytes, message: str, tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    [batch] = ingest_path(path, settings=settings).batches

    assert batch.status == REJECTED and message in (batch.rejection_reason or "")
    assert (batch.rows_appended, batch.rows_quarantined) == (0, 0)
    assert path.read_bytes() == content
    assert read(catalog, "ops.ingest_batches")["status"].to_list() == [REJECTED]


def test_truncated_csv_appends_nothing_even_after_good_chunks(
    tmp_path: Path, settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lake.ingest.readers.TEXT_CHUNK_BYTES", 1024)
    path = write(transactions(60), tmp_path / "transactions.csv")
    path.write_bytes(path.read_bytes() + b"t99999,c1,m1,12")

    [batch] = ingest_path(path, settings=settings).batches

    assert batch.status == REJECTED and "Expected 9 columns" in (batch.rejection_reason or "")
    assert batch.rows_read > 0
    assert catalog.load_table("raw.transactions").current_snapshot() is None
    assert not list((settings.home / "warehouse" / "raw" / "transactions" / "data").rglob("*.parquet"))


def test_a_folder_with_mixed_formats_ingests_each_file(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    for i, fmt in enumerate(FORMATS):
        write(transactions(3, first=10 * i), tmp_path / "landing" / f"transactions-{i}.{fmt}")

    report = ingest_path(tmp_path / "landing", settings=settings)

    assert [Path(b.source_file).suffix for b in report.batches] == [".parquet", ".csv", ".jsonl"]
    assert report.rows_appended == 9 and read(catalog, "raw.transactions").height == 9


def test_unusable_paths_raise_before_anything_is_ingested(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    with pytest.raises(IngestError, match=r"nowhere.parquet' does not exist"):
        ingest_path(tmp_path / "nowhere.parquet", settings=settings)
    write(transactions(2), tmp_path / "landing" / "transactions.parquet")
    (tmp_path / "landing" / "notes.txt").write_text("hello")
    with pytest.raises(IngestError, match=r"notes.txt: unsupported format '.txt'"):
        ingest_path(tmp_path / "landing", settings=settings)
    with pytest.raises(IngestError, match=r"no contract for table 'payments'"):
        ingest_path(write(transactions(2), tmp_path / "payments.parquet"), settings=settings)
    assert not catalog.table_exists("raw.transactions")


def test_table_option_overrides_the_file_name(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    path = write(transactions(2), tmp_path / "export-2026.parquet")
    report = ingest_path(path, table="raw.transactions", settings=settings)
    assert report.rows_appended == 2 and read(catalog, "raw.transactions").height == 2
