"""Generator throughput: ``write_landing_files`` vs writing the same, already generated tables (the I/O floor).

For each size and format, a full run generates and writes its landing files (timed). The same tables are then
generated into memory (timed separately, for reference) and written again with the same writer into another
folder: that write alone is the I/O floor, and the ratio says what generating costs on top of writing.
Target: 10 million transactions in under 60 seconds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from lake.generate import FORMATS, generate_landing_tables, write_landing_files, write_table_file

FULL_SIZES = (1_000_000, 10_000_000)
SMALL_SIZES = (100_000,)
BENCH_FORMATS = ("parquet", "csv")
DAYS = 30
SEED = 7
TARGET_S_FOR_10M = 60.0


def run(small: bool) -> dict[str, object]:
    """Time the generator against the I/O floor, per size and format.

    Args:
        small: run 100k transactions only (a smoke run of the harness) instead of 1M and 10M.

    Returns:
        Per size and format: rows, files, bytes, seconds, rows per second, in-memory generation seconds,
        I/O-floor seconds and the ratio of the full run to the floor.
    """
    results: dict[str, object] = {"days": DAYS, "target_s_for_10M": TARGET_S_FOR_10M}
    with tempfile.TemporaryDirectory(prefix="bench-generate-warmup-") as scratch:
        write_landing_files(Path(scratch), 1_000, 2, SEED)  # first-call imports are not what is measured
    for rows in SMALL_SIZES if small else FULL_SIZES:
        for fmt in BENCH_FORMATS:
            results[f"{fmt}_{rows}"] = _measure(rows, fmt)
    return results


def _measure(rows: int, fmt: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        written = write_landing_files(root / "generated", rows, DAYS, SEED, fmt=fmt)
        generate_s = time.perf_counter() - started
        files = [path for paths in written.values() for path in paths]
        size = sum(path.stat().st_size for path in files)

        started = time.perf_counter()
        tables = [landing for landing in generate_landing_tables(rows, DAYS, SEED) if landing.data.num_rows]
        in_memory_s = time.perf_counter() - started
        (root / "rewritten").mkdir()
        started = time.perf_counter()
        for landing in tables:
            write_table_file(landing.data, root / "rewritten" / f"{landing.stem}.{FORMATS[fmt]}")
        floor_s = time.perf_counter() - started
    result: dict[str, object] = {
        "rows": rows,
        "files": len(files),
        "bytes": size,
        "generate_and_write_s": round(generate_s, 3),
        "rows_per_s": round(rows / generate_s),
        "generate_in_memory_s": round(in_memory_s, 3),
        "io_floor_s": round(floor_s, 3),
        "ratio_to_io_floor": round(generate_s / floor_s, 2),
    }
    if rows >= 10_000_000:
        result["under_target"] = generate_s < TARGET_S_FOR_10M
    return result
