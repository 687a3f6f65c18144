"""Ingest throughput: Lakeforge's contract-checked ingestion vs a bare pyiceberg ``append`` of the same data.

For each size and format, transaction landing files are generated once (a file per day); then (1) ``ingest_path``
runs on the folder into a fresh data home, and (2) the same rows, already in memory as Arrow, are appended with a
bare ``Table.append`` into another fresh data home. The ratio of the two times is the cost of reading,
validation, quarantine and bookkeeping. The machine may be shared, so each measurement also reports the CPU
seconds the process used and the load average when it started: on a busy machine the wall-clock ratio mostly
measures the neighbours, the CPU ratio still measures the work.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from lake.catalog import load_catalog
from lake.contracts import get_contract
from lake.generate import write_landing_files
from lake.ingest import IngestReport, ingest_path
from lake.settings import load_settings

FULL_SIZES = (1_000_000, 10_000_000)
SMALL_SIZES = (100_000,)
FORMATS = ("parquet", "csv")
ROWS_PER_DAY = 500_000
"""Transactions per generated day file (the generator writes one file per day)."""
T = TypeVar("T")


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
            baseline: _Timing | None = None
            for fmt in FORMATS:
                landing = root / f"landing-{fmt}"
                files = write_landing_files(landing, rows=rows, days=days, seed=7, fmt=fmt)["transactions"]
                for other in landing.iterdir():
                    if other not in files:
                        other.unlink()
                if baseline is None:
                    baseline = _bare_append(root / "baseline", files)
                report, ingest = _ingest(root / f"home-{fmt}", landing)
                results[f"{fmt}_{rows}"] = {
                    "rows": rows,
                    "files": len(files),
                    "batches": len({batch.batch_id for batch in report.batches}),
                    "file_bytes": sum(path.stat().st_size for path in files),
                    "rows_appended": report.rows_appended,
                    "ingest_s": round(ingest.seconds, 3),
                    "ingest_cpu_s": round(ingest.cpu_seconds, 3),
                    "ingest_rows_per_s": round(rows / ingest.seconds),
                    "bare_append_s": round(baseline.seconds, 3),
                    "bare_append_cpu_s": round(baseline.cpu_seconds, 3),
                    "bare_append_rows_per_s": round(rows / baseline.seconds),
                    "ratio_ingest_to_bare_append": round(ingest.seconds / baseline.seconds, 2),
                    "cpu_ratio_ingest_to_bare_append": round(ingest.cpu_seconds / baseline.cpu_seconds, 2),
                    "load_average_at_start": {"ingest": ingest.load_average, "bare_append": baseline.load_average},
                }
    return results


@dataclass(frozen=True)
class _Timing:
    seconds: float
    cpu_seconds: float
    """CPU time of the whole process (every thread) during the measurement."""
    load_average: float
    """One-minute load average when the measurement started (2 means both cores were already busy)."""


def _timed(work: Callable[[], T]) -> tuple[T, _Timing]:
    load_average = round(os.getloadavg()[0], 2)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = work()
    return result, _Timing(time.perf_counter() - started, time.process_time() - cpu_started, load_average)


def _ingest(home: Path, landing: Path) -> tuple[IngestReport, _Timing]:
    settings = load_settings(home=home)
    load_catalog(settings)
    return _timed(lambda: ingest_path(landing, settings=settings))


def _bare_append(home: Path, files: list[Path]) -> _Timing:
    """A bare append of the same rows, already in memory with the contract's schema."""
    contract = get_contract("transactions")
    data = pa.concat_tables(pq.read_table(path) for path in files).cast(contract.arrow_schema())
    catalog = load_catalog(load_settings(home=home))
    table = catalog.create_table(
        contract.table_name, contract.iceberg_schema(), partition_spec=contract.partition_spec()
    )
    return _timed(lambda: table.append(data))[1]
