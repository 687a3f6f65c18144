"""Ingestion across real processes: SIGKILL mid-batch and four concurrent writers, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog import Catalog

from lake.catalog import load_catalog
from lake.ingest import INGESTED, SKIPPED, ingest_path
from lake.settings import PROJECT_ROOT, Settings
from tests.lake.ingest.landing import transactions, write

PROFILES = ["settings", pytest.param("cluster_settings", marks=pytest.mark.postgres)]


def child(path: Path, gate: Path, die_at_commit: int | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.lake.ingest.ingest_child", str(path), str(gate)]
    if die_at_commit is not None:
        command.append(str(die_at_commit))
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def open_gate(gate: Path, children: int) -> None:
    """Let the children start once all of them are ready (imports done), so they really run at once."""
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < children and time.monotonic() < deadline:
        time.sleep(0.05)
    (gate / "go").touch()


def rows(catalog: Catalog, name: str) -> pl.DataFrame:
    if not catalog.table_exists(name):
        return pl.DataFrame()
    return pl.DataFrame(catalog.load_table(name).scan().to_arrow())


def landing_file(path: Path, first: int) -> Path:
    """40 transactions, the last two with a bad amount: 38 for the table, 2 for quarantine."""
    return write(transactions(40, first=first, amount_cents=[100] * 38 + [0, -1]), path)


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("die_at_commit", [0, 1, 2])
def test_sigkill_mid_batch_leaves_committed_tables_and_a_rerun_completes(
    profile: str, die_at_commit: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings: Settings = request.getfixturevalue(profile)
    path = landing_file(tmp_path / "transactions.parquet", first=0)

    killed = child(path, tmp_path, die_at_commit)
    open_gate(tmp_path, 1)
    assert killed.wait(timeout=120) == -signal.SIGKILL, killed.stderr.read() if killed.stderr else ""

    catalog = load_catalog(settings)
    assert rows(catalog, "raw.transactions").height == (38 if die_at_commit >= 1 else 0)
    assert rows(catalog, "raw.transactions_quarantine").height == (2 if die_at_commit >= 2 else 0)
    assert rows(catalog, "ops.ingest_batches").height == 0

    [rerun] = ingest_path(path, settings=settings).batches
    assert (rerun.status, rerun.rows_appended, rerun.rows_quarantined) == (INGESTED, 38, 2)
    assert ingest_path(path, settings=settings).batches[0].status == SKIPPED
    raw = rows(catalog, "raw.transactions")
    assert raw.height == 38 and raw["transaction_id"].is_unique().all()
    assert sorted(rows(catalog, "raw.transactions_quarantine")["row_number"]) == [39, 40]
    assert rows(catalog, "ops.ingest_batches")["status"].to_list() == [INGESTED]


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_four_processes_ingesting_into_one_table_lose_no_rows(
    profile: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings: Settings = request.getfixturevalue(profile)
    load_catalog(settings)
    paths = [landing_file(tmp_path / f"transactions-{i}.csv", first=1000 * i) for i in range(4)]

    writers = [child(path, tmp_path) for path in paths]
    open_gate(tmp_path, len(writers))
    outputs = [writer.communicate(timeout=180) for writer in writers]

    assert [writer.returncode for writer in writers] == [0] * 4, [err for _, err in outputs]
    assert [out.split() for out, _ in outputs] == [["38", "2"]] * 4
    catalog = load_catalog(settings)
    raw = rows(catalog, "raw.transactions")
    assert raw.height == 4 * 38 and raw["transaction_id"].is_unique().all()
    assert rows(catalog, "raw.transactions_quarantine").height == 4 * 2
    batches = rows(catalog, "ops.ingest_batches")
    assert batches["status"].to_list() == [INGESTED] * 4
    assert batches["raw_snapshot_id"].n_unique() == 4


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_a_killed_batch_is_completed_as_it_was_even_after_a_file_arrived(
    profile: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings: Settings = request.getfixturevalue(profile)
    landing = tmp_path / "landing"
    for i in range(2):
        landing_file(landing / f"transactions-{i}.parquet", first=100 * i)

    killed = child(landing, tmp_path, die_at_commit=1)
    open_gate(tmp_path, 1)
    assert killed.wait(timeout=120) == -signal.SIGKILL, killed.stderr.read() if killed.stderr else ""
    catalog = load_catalog(settings)
    assert rows(catalog, "raw.transactions").height == 2 * 38
    landing_file(landing / "transactions-2.parquet", first=200)

    report = ingest_path(landing, settings=settings)

    assert [batch.status for batch in report.batches] == [INGESTED] * 3
    assert (report.rows_appended, report.rows_quarantined) == (3 * 38, 3 * 2)
    first, second, arrived = report.batches
    assert first.batch_id == second.batch_id != arrived.batch_id
    raw = rows(catalog, "raw.transactions")
    assert raw.height == 3 * 38 and raw["transaction_id"].is_unique().all()
    assert rows(catalog, "raw.transactions_quarantine").height == 3 * 2
    assert rows(catalog, "ops.ingest_batches").height == 3
