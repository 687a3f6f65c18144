"""Benchmark of the scoring service on Ray Serve against a bare uvicorn + FastAPI process doing the same work.

Both answer ``POST /v1/score`` by one online lookup through ``fraud_model_v1`` and one champion prediction
(:class:`serving.scoring.scorer.TransactionScorer`); Ray Serve also batches concurrent requests and writes
the prediction log, which the bare process does not. The load generator runs in its own process
(``python -m scripts.bench_scoring URL CONCURRENCY SECONDS``) and reports end-to-end p50/p99 latency and
throughput at concurrency 1, 8 and 64, each after an unmeasured warm-up at that concurrency (steady state: the
replicas Serve's autoscaler adds under load have started; locally at most one per core). Everything shares the
same 2 cores, so the figures include the load generator's own cost. Targets (issue #6): single-request p50
<= 15 ms; Ray Serve throughput at concurrency 64 at least half of the bare process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import FastAPI

from lake.feast.synthetic import SyntheticSpan
from lake.settings import PROJECT_ROOT, data_home, load_settings
from serving.scoring.schemas import Score, Transaction
from serving.scoring.scorer import TransactionScorer

CONCURRENCIES = (1, 8, 64)
FULL_SPANS = {
    "card_features": SyntheticSpan(rows=100_000, entities=20_000, days=10, seed=1),
    "merchant_features": SyntheticSpan(rows=5_000, entities=1_000, days=10, seed=2),
    "customer_features": SyntheticSpan(rows=20_000, entities=5_000, days=10, seed=3),
}
BODIES = 500
WARM_SECONDS = 5.0
"""Unmeasured load at each concurrency before measuring: replicas the autoscaler adds have started by then."""


def bare_app() -> FastAPI:
    """The baseline: one FastAPI process scoring each request on its own (``uvicorn --factory``)."""
    scorer = TransactionScorer(load_settings())
    api = FastAPI()

    @api.post("/v1/score", response_model=Score)
    def score(transaction: Transaction) -> Score:  # type: ignore[valid-type]
        return scorer.score([transaction.model_dump()]).scores[0]  # type: ignore[attr-defined]

    @api.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return api


async def _drive(
    session: aiohttp.ClientSession, url: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    """``concurrency`` clients posting back to back for ``seconds``: latencies, error count, elapsed seconds."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        nonlocal errors
        sent = offset
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            async with session.post(f"{url}/v1/score", json=bodies[sent % len(bodies)]) as answer:
                await answer.read()
                errors += answer.status != 200
            latencies.append(time.perf_counter() - started)
            sent += concurrency

    begun = time.perf_counter()
    await asyncio.gather(*(client(offset) for offset in range(concurrency)))
    return latencies, errors, time.perf_counter() - begun


async def _measure(url: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float) -> dict[str, Any]:
    """Warm up at the measured concurrency (autoscaling settles, unmeasured), then measure for ``seconds``."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _drive(session, url, bodies, concurrency, WARM_SECONDS)
        latencies, errors, elapsed = await _drive(session, url, bodies, concurrency, seconds)
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
    }


def _load(url: str, bodies_file: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    """Run the load generator in its own process and read its JSON."""
    command = [sys.executable, "-m", "scripts.bench_scoring", url, str(bodies_file), str(concurrency), str(seconds)]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes] | None = None, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the baseline process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} was not ready within {seconds} s")


def _bodies(card_ids: list[str], merchant_ids: list[str]) -> list[dict[str, Any]]:
    from serving.scoring.sandbox import transaction

    return [
        transaction(card_ids[(i * 7919) % len(card_ids)], merchant_ids[i % len(merchant_ids)], 500 + i, i)
        for i in range(BODIES)
    ]


def _measure_both(spans: dict[str, SyntheticSpan], seconds: float, folder: Path) -> list[dict[str, Any]]:
    """Build the sandbox in the current data home, start both servers, load them in turn at each concurrency.

    Both stay up for the whole run and take turns, so they see the same background load on the machine.
    """
    from serving.scoring.sandbox import build_sandbox
    from serving.scoring.service import start_service, stop_service

    settings = load_settings()
    sandbox = build_sandbox(settings, spans)
    bodies_file = folder / "bodies.json"
    bodies_file.write_text(json.dumps(_bodies(sandbox.card_ids, sandbox.merchant_ids)))

    port = _free_port()
    bare = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "scripts.bench_scoring:bare_app", "--factory", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        urls = {"ray_serve": start_service(settings, port=_free_port()), "bare_fastapi": f"http://127.0.0.1:{port}"}
        _wait_ready(urls["bare_fastapi"], bare)
        _wait_ready(urls["ray_serve"])
        return [
            {"server": server, **_load(url, bodies_file, concurrency, seconds)}
            for concurrency in CONCURRENCIES
            for server, url in urls.items()
        ]
    finally:
        stop_service()
        bare.terminate()
        bare.wait(timeout=30)


def run(small: bool) -> dict[str, Any]:
    """Build a sandbox, start both servers, load each at every concurrency, compare.

    Args:
        small: tiny tables and 3-second runs (harness check) instead of the full sizes and 10-second runs.

    Returns:
        Sizes, one row per server and concurrency, the Serve/bare throughput ratios and the targets met.
    """
    from serving.scoring.sandbox import SMALL_SPANS

    spans = SMALL_SPANS if small else FULL_SPANS
    seconds = 3.0 if small else 10.0
    with (
        tempfile.TemporaryDirectory(prefix="bench-scoring-") as folder,
        data_home(Path(folder) / "home"),
        contextlib.redirect_stdout(sys.stderr),  # Feast and Ray print progress; stdout carries the JSON
    ):
        rows = _measure_both(spans, seconds, Path(folder))

    failed = [row for row in rows if row["errors"]]
    if failed:
        raise RuntimeError(f"requests failed during the benchmark, so its figures mean nothing: {failed}")
    by = {(row["server"], row["concurrency"]): row for row in rows}
    ratios = {
        f"c{c}": round(by["ray_serve", c]["throughput_rps"] / by["bare_fastapi", c]["throughput_rps"], 2)
        for c in CONCURRENCIES
    }
    return {
        "sizes": {name: {"rows": span.rows, "entities": span.entities} for name, span in spans.items()},
        "seconds_per_run": seconds,
        "results": rows,
        "serve_over_bare_throughput": ratios,
        "targets": {
            "single_request_p50_le_15ms": by["ray_serve", 1]["p50_ms"] <= 15.0,
            "serve_c64_throughput_ge_half_bare": ratios["c64"] >= 0.5,
        },
    }


if __name__ == "__main__":
    target, bodies_path, clients, duration = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(asyncio.run(_measure(target, json.loads(bodies_path.read_text()), clients, duration))))
