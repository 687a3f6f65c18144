"""Files of one table form one batch: one commit per table, one record per file, idempotent per file."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import TableProperties

from lake.contracts import get_contract
from lake.ingest import INGESTED, REJECTED, SKIPPED, ingest_path
from lake.ingest.bookkeeping import BATCHES_TABLE as BATCHES
from lake.ingest.plan import PendingFile, plan_batches
from lake.ingest.sources import SourceFile, batch_id_of
from lake.ingest.writes import BATCH_PROPERTY, FILES_PROPERTY
from lake.settings import Settings
from tests.lake.ingest.landing import transactions, write


def read(catalog: Catalog, name: str) -> pl.DataFrame:
    return pl.DataFrame(catalog.load_table(name).scan().to_arrow())


def test_a_folder_of_one_table_is_one_commit_with_a_record_per_file(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    for day in range(3):
        frame = transactions(4, first=10 * day, amount_cents=[100, 200, 300, 0])
        write(frame, landing / f"transactions-d{day}.parquet")

    report = ingest_path(landing, settings=settings)

    assert [batch.status for batch in report.batches] == [INGESTED] * 3
    assert (report.rows_appended, report.rows_quarantined) == (9, 3)
    assert len({batch.batch_id for batch in report.batches}) == 1
    raw = catalog.load_table("raw.transactions")
    [snapshot] = raw.snapshots()
    assert snapshot.summary is not None and snapshot.summary[BATCH_PROPERTY] == report.batches[0].batch_id
    assert snapshot.summary[FILES_PROPERTY] == ",".join(batch.file_sha256 for batch in report.batches)
    assert len(catalog.load_table("raw.transactions_quarantine").snapshots()) == 1
    assert len(catalog.load_table("ops.ingest_batches").snapshots()) == 1
    records = read(catalog, "ops.ingest_batches").sort("source_file")
    assert records["source_file"].to_list() == [batch.source_file for batch in report.batches]
    assert records["rows_appended"].to_list() == [3, 3, 3]
    assert set(records["raw_snapshot_id"]) == {snapshot.snapshot_id}
    assert [json.loads(reasons) for reasons in records["quarantine_reasons"]] == [{"amount_cents: below min 1": 1}] * 3
    quarantined = read(catalog, "raw.transactions_quarantine").sort("source_file")
    assert quarantined["source_file"].to_list() == records["source_file"].to_list()
    assert quarantined["row_number"].to_list() == [4, 4, 4]


def test_a_file_added_to_the_folder_is_the_only_one_ingested_next_time(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    first = [write(transactions(3, first=10 * day), landing / f"transactions-d{day}.csv") for day in range(2)]
    before = ingest_path(landing, settings=settings)
    write(transactions(3, first=100), landing / "transactions-d2.csv")
    (landing / "copy-of-d0.csv").write_bytes(first[0].read_bytes())

    report = ingest_path(landing, table="raw.transactions", settings=settings)

    statuses = {Path(batch.source_file).name: batch.status for batch in report.batches}
    assert statuses == {
        "copy-of-d0.csv": SKIPPED,
        "transactions-d0.csv": SKIPPED,
        "transactions-d1.csv": SKIPPED,
        "transactions-d2.csv": INGESTED,
    }
    assert report.rows_appended == 3 and read(catalog, "raw.transactions").height == 9
    skipped = [batch for batch in report.batches if batch.status == SKIPPED]
    assert {batch.batch_id for batch in skipped} == {before.batches[0].batch_id}
    assert read(catalog, "ops.ingest_batches").height == 3


def test_the_same_content_twice_in_one_folder_is_read_once(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    path = write(transactions(3), tmp_path / "landing" / "transactions-a.parquet")
    (tmp_path / "landing" / "transactions-b.parquet").write_bytes(path.read_bytes())

    first, second = ingest_path(tmp_path / "landing", settings=settings).batches

    assert (first.status, first.rows_appended, first.rows_quarantined) == (INGESTED, 3, 0)
    assert (second.status, second.batch_id) == (SKIPPED, first.batch_id)
    assert read(catalog, "ops.ingest_batches")["source_file"].to_list() == [first.source_file]


def test_keys_repeated_across_files_of_a_batch_enter_the_table_once(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    write(transactions(3), landing / "transactions-1.parquet")
    write(transactions(3, first=2, amount_cents=[7, 8, 9]), landing / "transactions-2.jsonl")

    first, second = ingest_path(landing, settings=settings).batches

    assert (first.rows_appended, second.rows_appended, second.rows_quarantined) == (3, 2, 1)
    assert second.quarantine_reasons == {"transaction_id: primary key already in raw.transactions": 1}
    raw = read(catalog, "raw.transactions").sort("transaction_id")
    assert raw["transaction_id"].to_list() == ["t00000", "t00001", "t00002", "t00003", "t00004"]
    assert raw["amount_cents"].to_list() == [100, 101, 102, 8, 9]


def test_a_key_repeated_chunks_later_in_the_file_is_a_duplicate_within_the_file(
    tmp_path: Path, settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lake.ingest.readers.TEXT_CHUNK_BYTES", 1024)
    ids = [f"t{i:05d}" for i in range(40)] + ["t00003", "t00039"]
    path = write(transactions(42, transaction_id=ids), tmp_path / "transactions.csv")

    [batch] = ingest_path(path, settings=settings).batches

    assert (batch.rows_appended, batch.rows_quarantined) == (40, 2)
    assert batch.quarantine_reasons == {"transaction_id: duplicate primary key within the file": 2}
    assert read(catalog, "raw.transactions_quarantine")["row_number"].sort().to_list() == [41, 42]


def test_a_rejected_file_leaves_the_rest_of_its_batch_and_none_of_its_keys(
    tmp_path: Path, settings: Settings, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lake.ingest.readers.TEXT_CHUNK_BYTES", 1024)
    landing = tmp_path / "landing"
    broken = write(transactions(60), landing / "transactions-1.csv")
    broken.write_bytes(broken.read_bytes() + b"t99999,c1,m1,12")
    write(transactions(2), landing / "transactions-2.csv")

    rejected, ingested = ingest_path(landing, settings=settings).batches

    assert rejected.status == REJECTED and rejected.rows_read > 2 and rejected.rows_appended == 0
    assert (ingested.status, ingested.rows_appended, ingested.rows_quarantined) == (INGESTED, 2, 0)
    assert read(catalog, "raw.transactions")["transaction_id"].to_list() == ["t00000", "t00001"]
    data_files = catalog.load_table("raw.transactions").inspect.files()["file_path"].to_pylist()
    written = (settings.home / "warehouse" / "raw" / "transactions" / "data").rglob("*.parquet")
    assert sorted(str(path) for path in written) == sorted(path.removeprefix("file://") for path in data_files)
    [snapshot] = catalog.load_table("raw.transactions").snapshots()
    assert snapshot.summary is not None and snapshot.summary[FILES_PROPERTY] == ingested.file_sha256


def test_a_batch_rolled_back_but_not_expired_is_ingested_again(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    ingest_path(write(transactions(2), tmp_path / "transactions-1.parquet"), settings=settings)
    before = {name: catalog.load_table(name).metadata.current_snapshot_id for name in ("raw.transactions", BATCHES)}
    path = write(transactions(3, first=10), tmp_path / "transactions-2.parquet")
    ingest_path(path, settings=settings)
    for name, snapshot_id in before.items():
        assert snapshot_id is not None
        catalog.load_table(name).manage_snapshots().rollback_to_snapshot(snapshot_id).commit()

    [again] = ingest_path(path, settings=settings).batches

    assert (again.status, again.rows_appended) == (INGESTED, 3)
    assert read(catalog, "raw.transactions").height == 5


def pending(tmp_path: Path, sizes: list[int]) -> list[PendingFile]:
    contract = get_contract("transactions")
    files = []
    for position, size in enumerate(sizes):
        path = tmp_path / f"transactions-{position}.csv"
        path.write_bytes(b"x" * size)
        files.append(PendingFile(position, SourceFile(path, "csv", contract), f"sha{position}", size))
    return files


def test_batches_are_cut_by_files_and_bytes_and_a_killed_batch_is_formed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lake.ingest.plan.MAX_BATCH_FILES", 3)
    monkeypatch.setattr("lake.ingest.plan.MAX_BATCH_BYTES", 100)
    files = pending(tmp_path, [10, 10, 10, 10, 60, 50, 200, 10])

    plans = plan_batches("raw.transactions", files, landed={"sha2": "killed", "sha5": "killed"})

    assert [(plan.batch_id, [file.position for file in plan.files]) for plan in plans] == [
        ("killed", [2, 5]),
        (batch_id_of("raw.transactions", ["sha0", "sha1", "sha3"]), [0, 1, 3]),
        (batch_id_of("raw.transactions", ["sha4"]), [4]),
        (batch_id_of("raw.transactions", ["sha6"]), [6]),
        (batch_id_of("raw.transactions", ["sha7"]), [7]),
    ]


def test_appends_merge_manifests_once_a_table_holds_enough_of_them(
    tmp_path: Path, settings: Settings, catalog: Catalog
) -> None:
    landing = tmp_path / "landing"
    ingest_path(write(transactions(3), landing / "transactions-d0.parquet"), settings=settings)
    with catalog.load_table("raw.transactions").transaction() as txn:
        txn.set_properties({TableProperties.MANIFEST_MIN_MERGE_COUNT: "2"})  # instead of 100
    for day in range(1, 4):
        ingest_path(write(transactions(3, first=10 * day), landing / f"transactions-d{day}.parquet"), settings=settings)

    raw = catalog.load_table("raw.transactions")
    assert len(raw.snapshots()) == 4
    assert len(raw.current_snapshot().manifests(raw.io)) == 1
    assert sorted(raw.scan().to_arrow()["transaction_id"].to_pylist()) == sorted(
        f"t{10 * day + i:05d}" for day in range(4) for i in range(3)
    )
