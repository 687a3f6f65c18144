"""Benchmark of the Trino-protocol endpoint against DuckDB reading the same Iceberg table directly.

Small queries (point lookup, count, grouped aggregate): p50 latency through the Python ``trino`` client with
the shipped rules enforced, and of the same SQL on a DuckDB connection over the same table. Streaming: rows/s
of a large result as the endpoint serves it (a protocol client paging through ``nextUri``), and as the Python
DB-API delivers it (bounded by that client's per-value decoding in Python). The endpoint runs as
``lakeforge sql`` in its own process, as users run it. Targets (issue #7): p50 <= 30 ms and <= 10 ms over
DuckDB direct; >= 200k rows/s streamed.
"""

from __future__ import annotations

import gc
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import requests
import trino

from lake.catalog import load_catalog
from lake.duck import connect, register_iceberg_views
from lake.settings import PROJECT_ROOT, load_settings, without_settings

LOOKUP_TABLE = "curated.bench_cards"
"""Small queries run on a dimension-sized table (what dashboards' point lookups and tiles hit)."""
LOOKUP_ROWS = 50_000
STREAM_TABLE = "curated.bench_events"
QUERIES = {
    "point_lookup": f"SELECT * FROM {LOOKUP_TABLE} WHERE id = 4242",
    "count": f"SELECT count(*) FROM {LOOKUP_TABLE}",
    "grouped_aggregate": f"SELECT category, count(*), avg(amount) FROM {LOOKUP_TABLE} GROUP BY category ORDER BY 1",
}
STREAM = f"SELECT id, card_id, amount FROM {STREAM_TABLE}"
REPEATS = 30


def _write_table(home: Path, name: str, rows: int) -> None:
    catalog = load_catalog(load_settings(home=home))
    ids = pa.array(range(rows), pa.int64())
    events = pa.table(
        {
            "id": ids,
            "card_id": pa.array([f"card-{i % 5000:05d}" for i in range(rows)], pa.large_string()),
            "amount": pa.array([(i % 997) * 1.25 for i in range(rows)], pa.float64()),
            "category": pa.array(
                [("grocery", "fuel", "travel", "digital")[i % 4] for i in range(rows)], pa.large_string()
            ),
        }
    )
    catalog.create_table(name, events.schema).append(events)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_endpoint(home: Path, port: int) -> subprocess.Popen[bytes]:
    environment = without_settings()
    environment.update(
        LAKEFORGE_HOME=str(home),
        LAKEFORGE_SQL__GROUP_FILE=str(PROJECT_ROOT / "deploy" / "trino" / "group.txt"),
        LAKEFORGE_SQL__MAX_RESULT_ROWS="10000000",
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("lakeforge")), "sql", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/v1/info", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("lakeforge sql did not start within 60 s")


def _stream_over_protocol(port: int, sql: str) -> int:
    """Rows of ``sql`` read the way any Trino client pages (POST, then GET each ``nextUri``), values undecoded."""
    session = requests.Session()
    headers = {"X-Trino-User": "admin", "X-Trino-Catalog": "lake"}
    page = orjson.loads(session.post(f"http://127.0.0.1:{port}/v1/statement", data=sql, headers=headers).content)
    rows = len(page.get("data") or [])
    while "nextUri" in page:
        page = orjson.loads(session.get(page["nextUri"], headers=headers).content)
        rows += len(page.get("data") or [])
    if "error" in page:
        raise RuntimeError(page["error"]["message"])
    return rows


def _fetch_direct(duck: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return duck.execute(sql).fetchall()


def _paired_p50_ms(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[float, float]:
    """p50 latency of two callables, measured alternately so both see the same machine load."""
    first(), second()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEATS):
        for run_one, sink in ((first, timings[0]), (second, timings[1])):
            started = time.perf_counter()
            run_one()
            sink.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings[0]), 2), round(statistics.median(timings[1]), 2)


def run(small: bool) -> dict[str, Any]:
    """Measure the endpoint against DuckDB direct on the same table; returns latencies, rates and sizes."""
    rows = 100_000 if small else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench_sql_") as folder:
        home = Path(folder) / "home"
        _write_table(home, LOOKUP_TABLE, LOOKUP_ROWS)
        _write_table(home, STREAM_TABLE, rows)
        settings = load_settings(home=home)
        duck = connect(settings)
        register_iceberg_views(duck, load_catalog(settings), [LOOKUP_TABLE, STREAM_TABLE])
        port = _free_port()
        endpoint = _start_endpoint(home, port)
        try:
            client = trino.dbapi.connect(host="127.0.0.1", port=port, user="admin", catalog="lake")

            def through_endpoint(sql: str) -> Callable[[], Any]:
                def query() -> Any:
                    cursor = client.cursor()
                    cursor.execute(sql)
                    return cursor.fetchall()

                return query

            latency = {}
            for name, sql in QUERIES.items():
                endpoint_ms, direct_ms = _paired_p50_ms(through_endpoint(sql), partial(_fetch_direct, duck, sql))
                latency[name] = {
                    "endpoint_p50_ms": endpoint_ms,
                    "duckdb_direct_p50_ms": direct_ms,
                    "overhead_ms": round(endpoint_ms - direct_ms, 2),
                    "ratio": round(endpoint_ms / direct_ms, 2),
                }
            gc.freeze()
            started = time.perf_counter()
            streamed = _stream_over_protocol(port, STREAM)
            stream_s = time.perf_counter() - started
            started = time.perf_counter()
            dbapi_rows = len(through_endpoint(STREAM)())
            dbapi_s = time.perf_counter() - started
            started = time.perf_counter()
            duck.execute(STREAM).fetchall()
            direct_stream_s = time.perf_counter() - started
        finally:
            endpoint.terminate()
            endpoint.wait(timeout=60)
            duck.close()
    worst_p50 = max(entry["endpoint_p50_ms"] for entry in latency.values())
    worst_overhead = max(entry["overhead_ms"] for entry in latency.values())
    rate = streamed / stream_s
    return {
        "lookup_table_rows": LOOKUP_ROWS,
        "stream_table_rows": rows,
        "small_queries": latency,
        "stream": {
            "rows": streamed,
            "columns": 3,
            "endpoint_rows_per_s": round(rate),
            "trino_dbapi_rows_per_s": round(dbapi_rows / dbapi_s),
            "duckdb_direct_rows_per_s": round(streamed / direct_stream_s),
            "seconds": round(stream_s, 2),
        },
        "targets": {
            "p50_at_most_30ms": worst_p50 <= 30,
            "overhead_at_most_10ms": worst_overhead <= 10,
            "stream_at_least_200k_rows_per_s": rate >= 200_000,
        },
    }
