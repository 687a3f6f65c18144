"""Benchmark: one full ``lakeforge run`` cycle, then an incremental cycle with one new day, time per step.

For each size, a fresh data home gets ``DAYS`` days of generated transactions in its landing folder and runs a
full cycle (ingest, dbt build, Feast apply and materialize, drift, training of the first champion). Then day
``DAYS`` lands and a second cycle runs on the same lake: it ingests one day, builds incrementally, materializes
the new feature rows, and judges drift and the retrain schedule (a day-old champion is not retrained). Both
cycles are the same code path users run; generating the data is not timed. Target (issue #8): the incremental
cycle costs at most 20 % of the full one at 10M transactions. Since the full cycle includes training the first
champion and the incremental one does not retrain, the ratio without the full cycle's training is reported too.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from lake.generate import write_landing_files
from lake.settings import data_home
from models.cycle import run_cycle

DAYS = 28
"""Days of the full cycle; one more day is then run incrementally."""
SEED = 5


def run(small: bool) -> dict[str, Any]:
    """Time a full and an incremental cycle at 1M and 10M transactions (50k when ``small``).

    Feast's progress output goes to stderr so that stdout stays the harness's JSON.
    """
    sizes = [50_000] if small else [1_000_000, 10_000_000]
    with contextlib.redirect_stdout(sys.stderr):
        by_size = {str(rows): _bench(rows) for rows in sizes}
    return {"days_full": DAYS, "days_incremental": 1, "by_transactions": by_size}


def _bench(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as tmp, data_home(Path(tmp) / "home") as settings:
        incoming = Path(tmp) / "incoming"
        files = write_landing_files(incoming, rows=rows * (DAYS + 1) // DAYS, days=DAYS + 1, seed=SEED)
        last_day = f"d{DAYS:04d}"
        later = [path for paths in files.values() for path in paths if last_day in path.name]
        _land([path for paths in files.values() for path in paths if path not in later], settings.landing_dir)
        full = _timed_cycle(settings)
        _land(later, settings.landing_dir)
        incremental = _timed_cycle(settings)
        full_without_train = full["seconds"] - full["steps"]["train"]["seconds"]
        return {
            "full_cycle": full,
            "incremental_cycle": incremental,
            "incremental_over_full": round(incremental["seconds"] / full["seconds"], 3),
            "incremental_over_full_without_training": round(incremental["seconds"] / full_without_train, 3),
        }


def _land(paths: list[Path], landing: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.move(path, landing / path.name)


def _timed_cycle(settings: Any) -> dict[str, Any]:
    started = time.perf_counter()
    report = run_cycle(settings, console=Console(stderr=True, quiet=True))
    seconds = time.perf_counter() - started
    steps = {
        record.step: {
            "status": record.status,
            "seconds": round(record.seconds, 2),
            "rows": record.rows,
            "detail": record.detail,
        }
        for record in report.run.records
    }
    failed = [name for name, step in steps.items() if step["status"] == "failed"]
    if failed:
        raise RuntimeError(f"the cycle failed at {failed[0]}; see ops.pipeline_runs in {settings.home}")
    return {"seconds": round(seconds, 2), "steps": steps}
