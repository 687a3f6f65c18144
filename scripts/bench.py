"""``make bench``: run every area's benchmark and print one JSON document.

Each benchmark module exposes ``run(small: bool) -> dict``; it measures Lakeforge against a baseline in the
same process on the same data and reports ratios and the sizes it used. ``BENCH_SIZES=small`` runs tiny
sizes (a smoke run of the harness); the default runs the sizes the issues name. ``BENCH_ONLY=a,b`` runs a
subset by name.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

BENCHMARKS = (
    "bench_ingest",
    "bench_generate",
    "bench_dbt",
    "bench_sql",
    "bench_feast",
    "bench_scoring",
    "bench_train",
    "bench_cycle",
)
"""Module names under ``scripts`` (e.g. ``bench_ingest``), run in this order."""


def main() -> None:
    """Run the selected benchmarks and print their results as JSON on stdout."""
    small = os.environ.get("BENCH_SIZES", "full") == "small"
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    results: dict[str, object] = {"sizes": "small" if small else "full", "cpus": os.cpu_count()}
    for name in BENCHMARKS:
        if only and name not in only:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"scripts.{name}")
        results[name] = module.run(small=small)
        print(f"{name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
