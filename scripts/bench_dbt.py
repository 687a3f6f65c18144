"""dbt on Iceberg: full build, one more day built incrementally, and the cost of writing Iceberg over Parquet.

For each size, a fresh data home gets ``DAYS`` days of generated data through the real ingestion; then
``dbt build`` runs in full (models and tests, per-model times from dbt's run results). Baseline, in the same
process on the same data: each model's compiled SQL written by DuckDB straight to Parquet with ``COPY ... TO``,
reading the same Iceberg inputs, compressing as the lake's tables do (pyiceberg's defaults: zstd at level 1;
DuckDB's own default, snappy, costs less CPU and writes larger files, so it would measure the codec, not the
materialization) and laid out as the model's table is, one file per partition (``PARTITION_BY``);
``iceberg_over_parquet`` is the models' total time over the baseline's (target at most 1.3). The same SQL written
to one unpartitioned file per model gives ``iceberg_over_unpartitioned_parquet``: what the tables' day partitions
cost on top (DuckDB 1.5.5 writes a partitioned COPY's files on one thread once every row is in).
Then day ``DAYS`` is ingested and ``dbt build`` runs again; ``incremental_over_full_models_only`` compares the
two builds' models' times. ``*_tests_seconds`` add up dbt's execution times of the data tests (the tests of a model
written incrementally read only the rows that write added), and ``incremental_slowest_tests`` names the five
slowest tests of the incremental build; a build's seconds beyond its models and tests go to dbt itself (parsing,
unit tests, the publish hook).

These builds run in the benchmark's process (dbt imported once) with ``--threads`` :data:`THREADS`, not the
profile's 2: with two threads independent nodes overlap, so each node's time would include its neighbour's
contention, the models' total would exceed the wall clock and not compare with the one-statement-at-a-time Parquet
baseline. Their wall-clock ratio is ``incremental_over_full_one_thread``. ``incremental_over_full`` (target at most
0.15 at 10M transactions) is the ratio as an analyst gets it: the same days are ingested into a second data home
and built in full by the ``dbt build`` command (a process of its own, the profile's threads), then the extra day is
ingested and ``dbt build`` runs again. Each command also pays for importing dbt and the lake's libraries (1-2 s on
2 cores, twice that on a loaded machine), which a build in a warm process does not, and which weighs on the
one-day build's share. Two threads shorten the two builds unequally: the full build's time is mostly
card_features' windows, one query already on both cores, while the incremental build is mostly many short models
and tests, whose dbt bookkeeping the second thread overlaps.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from dbt.contracts.graph.nodes import GenericTestNode, ModelNode, SingularTestNode
from pyarrow import Codec
from pyiceberg.table import TableProperties

from lake.catalog import list_table_names, load_catalog
from lake.data_files import partitioned_layout
from lake.dbt_plugin import PII_KEY_VARIABLE
from lake.dbt_runner import DBT_PROJECT_DIR, MODEL_NAMESPACES, run_dbt
from lake.duck import connect, register_iceberg_views
from lake.generate import write_landing_files
from lake.ingest import ingest_path
from lake.settings import Settings, data_home
from lake.tables import table_stats

DAYS = 28
"""Days in the full build; one more day is then built incrementally."""
SEED = 11
PARQUET_OPTIONS = (
    f"FORMAT parquet, COMPRESSION {TableProperties.PARQUET_COMPRESSION_DEFAULT}, "
    f"COMPRESSION_LEVEL {Codec.default_compression_level(TableProperties.PARQUET_COMPRESSION_DEFAULT)}"
)
"""The baseline's Parquet options: the codec pyiceberg writes the lake's tables with, at pyarrow's default level."""
THREADS = 1
"""dbt threads of both builds: one, so each node's time is its own (see the module docstring)."""


def run(small: bool) -> dict[str, Any]:
    """Benchmark dbt builds at 1M and 10M transactions (50k when ``small``)."""
    sizes = [50_000] if small else [1_000_000, 10_000_000]
    return {"days_full": DAYS, "days_incremental": 1, "by_transactions": {str(n): _bench(n) for n in sizes}}


def _bench(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
        work = Path(tmp)
        files = write_landing_files(work / "landing", rows=rows * (DAYS + 1) // DAYS, days=DAYS + 1, seed=SEED)
        last_day = f"d{DAYS:04d}"
        later = sorted(path for paths in files.values() for path in paths if last_day in path.name)
        earlier = sorted(path for paths in files.values() for path in paths if path not in later)
        one_thread = _builds(work / "one_thread", earlier, later, _build_in_process, baseline=True)
        command = _builds(work / "dbt_command", earlier, later, _build_command, baseline=False)
        full, incremental = one_thread["full"], one_thread["incremental"]
        iceberg_models = sum(full["models"].values())
        parquet, unpartitioned = one_thread["parquet"], one_thread["unpartitioned"]
        return {
            "dbt_threads": THREADS,
            "raw_transactions_full": one_thread["raw_transactions_full"],
            "raw_transactions_added": one_thread["raw_transactions_added"],
            "ingest_seconds": one_thread["ingest_seconds"],
            "full_build_seconds": full["seconds"],
            "full_models_seconds": round(iceberg_models, 2),
            "full_model_seconds": full["models"],
            "parquet_copy_seconds": round(sum(parquet.values()), 2),
            "iceberg_over_parquet": round(iceberg_models / sum(parquet.values()), 3),
            "iceberg_over_parquet_by_model": {
                name: round(full["models"][name] / seconds, 3) for name, seconds in parquet.items()
            },
            "unpartitioned_parquet_copy_seconds": round(sum(unpartitioned.values()), 2),
            "iceberg_over_unpartitioned_parquet": round(iceberg_models / sum(unpartitioned.values()), 3),
            "full_tests_seconds": round(sum(full["tests"].values()), 2),
            "incremental_build_seconds": incremental["seconds"],
            "incremental_models_seconds": round(sum(incremental["models"].values()), 2),
            "incremental_model_seconds": incremental["models"],
            "incremental_tests_seconds": round(sum(incremental["tests"].values()), 2),
            "incremental_slowest_tests": dict(sorted(incremental["tests"].items(), key=lambda item: -item[1])[:5]),
            "incremental_over_full_one_thread": round(incremental["seconds"] / full["seconds"], 3),
            "incremental_over_full_models_only": round(sum(incremental["models"].values()) / iceberg_models, 3),
            "profile_threads": _profile_threads(),
            "full_build_seconds_dbt_command": command["full"]["seconds"],
            "incremental_build_seconds_dbt_command": command["incremental"]["seconds"],
            "incremental_over_full": round(command["incremental"]["seconds"] / command["full"]["seconds"], 3),
            "table_rows": one_thread["table_rows"],
        }


def _builds(
    folder: Path,
    earlier: list[Path],
    later: list[Path],
    build: Callable[[list[str]], dict[str, Any]],
    baseline: bool,
) -> dict[str, Any]:
    """In a data home of its own under ``folder``: ingest ``earlier``, ``build`` in full, ingest ``later``,
    ``build`` again; with ``baseline``, also the Parquet baselines of the full build's models."""
    with data_home(folder / "home") as settings:
        started = time.perf_counter()
        for path in earlier:
            ingest_path(path, settings=settings)
        ingest_seconds = time.perf_counter() - started
        dbt_args = ["--quiet", "--target-path", str(folder / "target"), "--log-path", str(folder / "logs")]
        full = build(dbt_args)
        catalog = load_catalog(settings)
        transactions = table_stats(catalog, "raw.transactions").rows
        measured: dict[str, Any] = {"full": full}
        if baseline:
            measured["parquet"] = _copy_to_parquet(settings, full["compiled"], folder / "parquet", partitioned=True)
            measured["unpartitioned"] = _copy_to_parquet(
                settings, full["compiled"], folder / "unpartitioned", partitioned=False
            )
        for path in later:
            ingest_path(path, settings=settings)
        measured["incremental"] = build(dbt_args)
        return measured | {
            "ingest_seconds": round(ingest_seconds, 2),
            "raw_transactions_full": transactions,
            "raw_transactions_added": table_stats(catalog, "raw.transactions").rows - transactions,
            "table_rows": {
                name: table_stats(catalog, name).rows
                for name in list_table_names(catalog)
                if name.split(".", 1)[0] in MODEL_NAMESPACES
            },
        }


def _profile_threads() -> int:
    """The dbt threads of the project profile's local target (what ``dbt build`` runs with)."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    return int(profiles["lakeforge"]["outputs"]["local"]["threads"])


def _build_command(args: list[str]) -> dict[str, Any]:
    """``dbt build`` as an analyst runs it (this environment's ``dbt`` command, as bench_feast runs ``feast``), from
    the project folder in a process of its own (the data home's variables are inherited); its wall-clock seconds."""
    dbt = str(Path(sys.executable).with_name("dbt"))
    started = time.perf_counter()
    completed = subprocess.run([dbt, "build", *args], cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode:
        raise RuntimeError(f"dbt build failed (exit {completed.returncode}):\n{completed.stdout[-4000:]}")
    return {"seconds": round(seconds, 2)}


def _build_in_process(args: list[str]) -> dict[str, Any]:
    """``dbt build`` in this process with :data:`THREADS` threads: seconds, and each model's and test's execution
    time and each model's compiled SQL from dbt's run results."""
    argv = ["build", "--threads", str(THREADS), *args]
    started = time.perf_counter()
    run = run_dbt(argv)
    seconds = time.perf_counter() - started
    if not run.success:
        raise RuntimeError(f"dbt {' '.join(argv)} failed; see the log under its --log-path")
    models: dict[str, float] = {}
    tests: dict[str, float] = {}
    compiled: dict[str, str] = {}
    for result in run.result.result.results:  # type: ignore[union-attr]
        node = result.node
        if isinstance(node, ModelNode):
            name = f"{node.schema}.{node.name}"
            models[name] = round(result.execution_time, 3)
            compiled[name] = node.compiled_code or ""
        elif isinstance(node, GenericTestNode | SingularTestNode):
            tests[node.name] = round(result.execution_time, 3)
    return {"seconds": round(seconds, 2), "models": models, "tests": tests, "compiled": compiled}


def _copy_to_parquet(settings: Settings, compiled: dict[str, str], folder: Path, partitioned: bool) -> dict[str, float]:
    """Each model's SQL written by DuckDB straight to Parquet, reading the same Iceberg tables and compressed with
    the lake tables' codec and level: partitioned as the model's table (a folder per model), or one file."""
    folder.mkdir()
    con = connect(settings)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET VARIABLE {PII_KEY_VARIABLE} = 'bench'")
    catalog = load_catalog(settings)
    register_iceberg_views(con, catalog)
    seconds = {}
    for name, sql in compiled.items():
        rows, layout = sql, list[str]()
        if partitioned:
            table = catalog.load_table(name)
            rows, layout = partitioned_layout(sql, table.spec(), table.schema())
        target = folder / name if layout else folder / f"{name}.parquet"
        started = time.perf_counter()
        con.execute(f"COPY ({rows}) TO '{target}' ({', '.join([PARQUET_OPTIONS, *layout])})")
        seconds[name] = round(time.perf_counter() - started, 3)
    con.close()
    return seconds
