"""Awkward input is rejected or quarantined with a clear reason, never lost, and never stops the other files."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from datetime import time
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from lake.ingest import CHUNK_ROWS, INGESTED, REJECTED, ingest_path
from lake.ingest.pipeline import ingest_sources
from lake.ingest.sources import resolve_sources
from lake.settings import PROJECT_ROOT, Settings
from tests.lake.ingest.landing import as_text, transactions, write


def read(catalog: Catalog, name: str) -> pl.DataFrame:
    return pl.DataFrame(catalog.load_table(name).scan().to_arrow())


def test_columns_named_like_internal_ones_keep_their_values(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    frame = transactions(3, __row=["a", "b", "c"], __reason=["x", "y", "z"])
    [first] = ingest_path(write(frame, tmp_path / "transactions-1.csv"), settings=settings).batches
    [second] = ingest_path(write(transactions(2, first=10), tmp_path / "transactions-2.csv"), settings=settings).batches

    assert (first.status, first.rows_appended, first.added_columns) == (INGESTED, 3, ["__row", "__reason"])
    assert (second.status, second.rows_appended) == (INGESTED, 2)
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw["__row"].to_list() == ["a", "b", "c", None, None]
    assert raw["__reason"].to_list() == ["x", "y", "z", None, None]


def test_csv_words_that_look_null_are_values_and_only_an_empty_field_is_null(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    lines = [
        "transaction_id,card_id,merchant_id,amount_cents,currency,channel,lat,lon,transaction_at",
        "t1,NA,n/a,100,EUR,pos,,,2026-01-01T00:00:00Z",
        'n1,null,"",100,EUR,pos,NaN,,2026-01-01T00:00:00Z',
        "t2,#N/A,NULL,100,EUR,pos,1.5,,2026-01-01T00:00:00Z",
    ]
    path = tmp_path / "transactions.csv"
    path.write_text("\n".join(lines) + "\n")

    [batch] = ingest_path(path, settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (2, 1)
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw.select("transaction_id", "card_id", "merchant_id", "lat").rows() == [
        ("t1", "NA", "n/a", None),
        ("t2", "#N/A", "NULL", 1.5),
    ]
    [original] = read(catalog, "raw.transactions_quarantine")["original"]
    sent = json.loads(original)
    assert (sent["card_id"], sent["merchant_id"], sent["lat"], sent["lon"]) == ("null", "", "NaN", None)


def test_a_value_that_is_not_a_number_is_quarantined_as_such(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    """Polars orders NaN above every number, so a NaN latitude was quarantined as "above max 90"."""
    write(transactions(3, lat=[float("nan"), float("inf"), 1.5]), tmp_path / "transactions.parquet")

    [batch] = ingest_path(tmp_path / "transactions.parquet", settings=settings).batches

    assert batch.rows_appended == 1
    assert batch.quarantine_reasons == {"lat: not a number (NaN)": 1, "lat: above max 90": 1}


def test_a_csv_value_may_hold_line_ends_across_blocks(
    tmp_path: Path, settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lake.ingest.readers.TEXT_CHUNK_BYTES", 256)
    merchants = [f'm{i}\nline "two"' for i in range(40)]
    path = write(transactions(40, merchant_id=merchants), tmp_path / "transactions.csv")
    assert path.stat().st_size > 10 * 256

    [batch] = ingest_path(path, settings=settings).batches

    assert (batch.status, batch.rows_appended, batch.rows_quarantined) == (INGESTED, 40, 0)
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw["merchant_id"].to_list() == merchants


def test_a_csv_quote_that_is_never_closed_rejects_the_file_without_reading_it_all_into_memory(
    tmp_path: Path, settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record that starts at the stray quote would swallow the rest of the file: it is given up after
    MAX_RECORD_CHUNKS blocks, and the file is rejected saying where."""
    monkeypatch.setattr("lake.ingest.readers.TEXT_CHUNK_BYTES", 256)
    lines = as_text(transactions(60)).write_csv().splitlines()
    lines[3] = lines[3].replace(",", ',"', 1)  # its second field opens a quote that nothing closes
    path = tmp_path / "landing" / "transactions-1.csv"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    write(transactions(3, first=100), tmp_path / "landing" / "transactions-2.csv")

    rejected, ingested = ingest_path(tmp_path / "landing", settings=settings).batches

    assert rejected.status == REJECTED
    reason = rejected.rejection_reason or ""
    start = len("\n".join(lines[:3])) + 1
    assert reason.startswith(
        f"transactions-1.csv cannot be read as csv (truncated or corrupt?): the record at byte {start} "
    )
    assert reason.endswith("bytes (a double quote opened in it is never closed?)")
    assert (ingested.status, ingested.rows_appended) == (INGESTED, 3)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    for i, fmt in enumerate(("csv", "jsonl")):
        path = write(transactions(2, first=10 * i), tmp_path / "landing" / f"transactions-{i}.{fmt}")
        path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())

    report = ingest_path(tmp_path / "landing", settings=settings)

    assert [(batch.status, batch.rows_appended) for batch in report.batches] == [(INGESTED, 2), (INGESTED, 2)]
    assert read(catalog, "raw.transactions").height == 4


def test_new_columns_the_table_cannot_store_quarantine_the_file_and_leave_the_schema(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    ingest_path(write(transactions(2), tmp_path / "transactions-0.parquet"), settings=settings)
    landing = tmp_path / "landing"
    write(transactions(2, first=10, at=[time(1), time(2)]), landing / "transactions-1.parquet")
    big = pl.Series("big", [1, 2**64 - 1], pl.UInt64)
    write(transactions(2, first=20).with_columns(big), landing / "transactions-2.parquet")

    time_file, big_file = ingest_path(landing, settings=settings).batches

    assert time_file.quarantine_reasons == {
        "column(s) at (Time) have a type raw.transactions cannot store; "
        "convert them (e.g. to text) or leave them out": 2
    }
    assert big_file.quarantine_reasons == {
        "column big is UInt64 in the file but Int64 in raw.transactions; converting it would lose data": 2
    }
    assert catalog.load_table("raw.transactions").schema().column_names == transactions(1).columns


def test_binary_values_are_quarantined_as_base64_text(tmp_path: Path, settings: Settings, catalog: Catalog) -> None:
    frame = transactions(2).with_columns(pl.col("card_id").cast(pl.Binary))

    [batch] = ingest_path(write(frame, tmp_path / "transactions.parquet"), settings=settings).batches

    assert (batch.status, batch.rows_quarantined) == (INGESTED, 2)
    assert "column card_id is Binary in the file but String" in next(iter(batch.quarantine_reasons))
    originals = read(catalog, "raw.transactions_quarantine").sort("row_number")["original"]
    assert [json.loads(original)["card_id"] for original in originals] == ["YzA=", "YzE="]


def test_a_file_named_in_bytes_that_are_not_utf8_is_rejected_and_the_others_land(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    named = write(transactions(2), landing / "transactions-x.csv")
    named.rename(landing / os.fsdecode(b"transactions-\xff.csv"))
    write(transactions(3, first=10), landing / "transactions-ok.csv")

    ingested, rejected = ingest_path(landing, settings=settings).batches

    assert rejected.status == REJECTED
    assert rejected.rejection_reason == "the file name transactions-\\xff.csv is not valid UTF-8; rename the file"
    assert (ingested.status, ingested.rows_appended) == (INGESTED, 3)
    records = read(catalog, "ops.ingest_batches").sort("status")
    assert records["status"].to_list() == [INGESTED, REJECTED]
    assert records["source_file"][1].endswith("transactions-\\xff.csv")


def test_a_file_that_cannot_be_opened_is_rejected_and_the_others_land(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    """Here it vanished between listing and reading (a file without read access takes the same path; the tests run
    as root, who may read any file)."""
    landing = tmp_path / "landing"
    gone = write(as_text(transactions(2)), landing / "transactions-a.csv")
    write(transactions(3, first=10), landing / "transactions-b.csv")
    sources = resolve_sources(landing)
    gone.unlink()

    rejected, ingested = ingest_sources(catalog, sources, CHUNK_ROWS, lambda plan: lambda rows: None)

    assert rejected.status == REJECTED
    assert rejected.rejection_reason == "transactions-a.csv cannot be opened: No such file or directory"
    assert (ingested.status, ingested.rows_appended) == (INGESTED, 3)
    assert read(catalog, "ops.ingest_batches")["status"].sort().to_list() == [INGESTED, REJECTED]


def test_entries_of_a_folder_that_are_not_files_are_rejected_by_name_and_linked_folders_are_read(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    write(transactions(2), landing / "transactions-a.csv")
    write(transactions(3, first=10), tmp_path / "elsewhere" / "transactions-linked.csv")
    (landing / "linked").symlink_to(tmp_path / "elsewhere")
    (landing / "loop").symlink_to(landing)
    (landing / "transactions-gone.csv").symlink_to(tmp_path / "moved.csv")
    os.mkfifo(landing / "transactions-pipe.csv")

    records = ingest_path(landing, settings=settings).batches

    reasons = {Path(record.source_file).name: (record.status, record.rejection_reason) for record in records}
    assert reasons == {
        "transactions-a.csv": (INGESTED, None),
        "transactions-linked.csv": (INGESTED, None),
        "transactions-gone.csv": (
            REJECTED,
            f"transactions-gone.csv is a link to {tmp_path / 'moved.csv'}, which does not exist",
        ),
        "transactions-pipe.csv": (
            REJECTED,
            "transactions-pipe.csv is not a regular file (a named pipe, socket or device); only files are ingested",
        ),
    }
    assert read(catalog, "raw.transactions").height == 5


def test_a_folder_that_cannot_be_listed_stops_the_ingest_before_anything_lands(tmp_path: Path) -> None:
    """Listing is refused as it is to a user without read access; as root, the child runs without the capabilities
    that let root read any folder."""
    landing = tmp_path / "landing"
    write(transactions(2), landing / "transactions-a.csv")
    write(transactions(2, first=10), landing / "locked" / "transactions-b.csv")
    (landing / "locked").chmod(0)
    code = "import sys, pathlib, lake.ingest.sources as s; s.resolve_sources(pathlib.Path(sys.argv[1]))"
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        child = subprocess.run(
            [*unprivileged, sys.executable, "-c", code, str(landing)], capture_output=True, text=True, cwd=PROJECT_ROOT
        )
    finally:
        (landing / "locked").chmod(0o755)

    assert child.returncode == 1
    assert f"IngestError: cannot list {landing / 'locked'}: Permission denied. Nothing was ingested" in child.stderr


def test_a_file_that_fails_unforeseen_is_rejected_with_the_error_and_the_others_land(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    nested_bytes = pl.Series("blobs", [[b"a"], [b"b"]], pl.List(pl.Binary))  # Polars panics writing it as JSON
    write(transactions(2, amount_cents=[0, 0]).with_columns(nested_bytes), landing / "transactions-1.parquet")
    write(transactions(3, first=10), landing / "transactions-2.parquet")

    failed, ingested = ingest_path(landing, settings=settings).batches

    assert failed.status == REJECTED and "PanicException" in (failed.rejection_reason or "")
    assert (ingested.status, ingested.rows_appended) == (INGESTED, 3)
    assert read(catalog, "raw.transactions")["transaction_id"].sort().to_list() == ["t00010", "t00011", "t00012"]
