"""Ingest throughput: Lakeforge's contract-checked ingestion vs a bare pyiceberg ``append`` of the same data.

For each size and format, transaction landing files are generated once; then (1) ``ingest_path`` runs on them
into a fresh data home, and (2) the same rows, already in memory as Arrow, are appended with a bare
``Table.append`` into another fresh data home. The ratio of the two times is the cost of reading, validation,
quarantine and bookkeeping.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lake.catalog import load_catalog
from lake.contracts import get_contract
from lake.generate import write_landing_files
from lake.ingest import ingest_path
from lake.settings import load_settings

FULL_SIZES = (1_000_000, 10_000_000)
SMALL_SIZES = (100_000,)
FORMATS = ("parquet", "csv")
ROWS_PER_DAY = 500_000
"""Transactions per generated day file (the generator writes one file per day)."""


def run(small: bool) -> dict[str, object]:
    """Measure ingestion throughput and its ratio to a bare append, per size and format.

    Args:
        small: run 100k rows only (a smoke run of the harness) instead of 1M and 10M.

    Returns:
        Sizes, seconds, rows per second and ratios, per size and format.
    """
    results: dict[str, object] = {"rows_per_day_file": ROWS_PER_DAY}
    for rows in SMALL_SIZES if small else FULL_SIZES:
        days = max(2, rows // ROWS_PER_DAY)
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:
            root = Path(scratch)
            baseline_s = None
            for fmt in FORMATS:
                landing = root / f"landing-{fmt}"
                files = write_landing_files(landing, rows=rows, days=days, seed=7, fmt=fmt)["transactions"]
                for other in landing.iterdir():
                    if other not in files:
                        other.unlink()
                if baseline_s is None:
                    baseline_s = _bare_append_seconds(root / "baseline", files)
                ingest_s, appended = _ingest_seconds(root / f"home-{fmt}", landing)
                results[f"{fmt}_{rows}"] = {
                    "rows": rows,
                    "files": len(files),
                    "file_bytes": sum(path.stat().st_size for path in files),
                    "rows_appended": appended,
                    "ingest_s": round(ingest_s, 3),
                    "ingest_rows_per_s": round(rows / ingest_s),
                    "bare_append_s": round(baseline_s, 3),
                    "bare_append_rows_per_s": round(rows / baseline_s),
                    "ratio_ingest_to_bare_append": round(ingest_s / baseline_s, 2),
                }
    return results


def _ingest_seconds(home: Path, landing: Path) -> tuple[float, int]:
    settings = load_settings(home=home)
    load_catalog(settings)
    started = time.perf_counter()
    report = ingest_path(landing, settings=settings)
    return time.perf_counter() - started, report.rows_appended


def _bare_append_seconds(home: Path, files: list[Path]) -> float:
    """A bare append of the same rows, already in memory with the contract's schema."""
    contract = get_contract("transactions")
    data = pa.concat_tables(pq.read_table(path) for path in files).cast(contract.arrow_schema())
    catalog = load_catalog(load_settings(home=home))
    table = catalog.create_table(
        contract.table_name, contract.iceberg_schema(), partition_spec=contract.partition_spec()
    )
    started = time.perf_counter()
    table.append(data)
    return time.perf_counter() - started
