"""The generator's landing files through ``lakeforge ingest``, as a user runs it (a real CLI subprocess)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lake.catalog import load_catalog
from lake.generate import write_landing_files
from lake.settings import Settings
from lake.tables import list_table_stats
from tests.test_cli import run_cli


def test_generated_landing_files_ingest_cleanly_and_only_once(tmp_path: Path, settings: Settings) -> None:
    written = write_landing_files(tmp_path / "landing", rows=2000, days=3, seed=3, fmt="csv")
    expected = {table: sum(pl.read_csv(path).height for path in paths) for table, paths in written.items() if paths}

    first = run_cli("ingest", str(tmp_path / "landing"), env_home=settings.home)
    assert first.returncode == 0, first.stderr
    assert "Ingestion" in first.stdout and f"{sum(expected.values()):,}" in first.stdout

    stats = {s.name: s.rows for s in list_table_stats(load_catalog(settings))}
    assert {table: stats[f"raw.{table}"] for table in expected} == expected
    assert not any(name.endswith("_quarantine") and rows for name, rows in stats.items())
    assert stats["ops.ingest_batches"] == sum(len(paths) for paths in written.values())

    again = run_cli("ingest", str(tmp_path / "landing"), env_home=settings.home)
    assert again.returncode == 0 and "already ingested" in again.stdout
    assert {s.name: s.rows for s in list_table_stats(load_catalog(settings))} == stats


def test_cli_reports_quarantine_and_rejections(tmp_path: Path, settings: Settings) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "cards.csv").write_text(
        "card_id,customer_id,card_number,card_type,credit_limit_cents,issued_at\n"
        "k1,u1,4000,credit,5000,2026-01-01T00:00:00Z\n"
        "k2,u1,4001,gold,5000,2026-01-01T00:00:00Z\n"
    )
    (landing / "merchants.jsonl").write_text('{"merchant_id": "m1", "merchant_na')

    shown = run_cli("ingest", str(landing), env_home=settings.home)

    assert shown.returncode == 1
    assert "card_type: not one of credit, debit, prepaid" in shown.stdout
    assert "rejected" in shown.stdout and "merchants.jsonl" in shown.stdout and "nothing appended" in shown.stdout
