"""One scoring sandbox and one running service for this test package, shared by its modules.

Building the sandbox (feature tables, Feast apply + materialize, a registered champion) and starting a Serve
replica take tens of seconds, so they happen once. Tests that change the champion read the current one from
the registry instead of assuming the first.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from lake.catalog import load_catalog
from lake.settings import load_settings
from serving.scoring.prediction_log import PREDICTIONS_TABLE
from serving.scoring.sandbox import Sandbox, build_sandbox
from tests.conftest import clean_environment

APP_NAME = "scoring"


@pytest.fixture(scope="package")
def scoring_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A data home with online features for a hundred cards and a registered champion."""
    home = tmp_path_factory.mktemp("scoring") / "home"
    with clean_environment(home):
        yield build_sandbox(load_settings())


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(url: str, seconds: float = 120) -> None:
    """Poll ``/readyz`` until it answers 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the scoring service at {url} was not ready within {seconds} s")


@pytest.fixture(scope="package")
def scoring_url(ray_session: None, scoring_sandbox: Sandbox) -> Iterator[str]:
    """The service running on the local Ray instance (refresh and flush every half second)."""
    from ray import serve

    from serving.scoring.app import ServiceOptions, build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    options = ServiceOptions(refresh_seconds=0.5, flush_seconds=0.5)
    serve.run(build_app(scoring_sandbox.settings, options), name=APP_NAME, route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(url)
    yield url
    serve.shutdown()


def wait_for_logged(sandbox: Sandbox, request_ids: set[str], seconds: float = 30) -> list[dict[str, Any]]:
    """The ``ml.predictions`` rows of these requests, once all of them were written."""
    from pyiceberg.expressions import In

    table = load_catalog(sandbox.settings).load_table(PREDICTIONS_TABLE)
    deadline = time.monotonic() + seconds
    while True:
        rows = table.refresh().scan(row_filter=In("request_id", request_ids)).to_arrow().to_pylist()
        if len(rows) == len(request_ids) or time.monotonic() > deadline:
            assert {row["request_id"] for row in rows} == request_ids, "predictions missing from the log"
            return rows
        time.sleep(0.25)


def call(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One HTTP request (POST when there is a body); returns the status and the decoded JSON or text."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


@dataclass
class LoadResult:
    """What a load run saw: answers by status, versions served, and when each failure happened."""

    statuses: dict[int, int] = field(default_factory=dict)
    versions: set[int] = field(default_factory=set)
    failures: list[float] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Requests sent."""
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        """Requests not answered 200 (connection failures count as status 0)."""
        return self.total - self.statuses.get(200, 0)


async def _load(url: str, bodies: list[dict[str, Any]], concurrency: int, stop: asyncio.Event) -> LoadResult:
    result = LoadResult()

    async def worker(session: aiohttp.ClientSession, offset: int) -> None:
        sent = offset
        while not stop.is_set():
            body = bodies[sent % len(bodies)]
            sent += concurrency
            try:
                async with session.post(f"{url}/v1/score", json=body) as answer:
                    status, payload = answer.status, await answer.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError):
                status, payload = 0, None
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 200:
                result.versions.add(payload["model_version"])
                result.successes.append(time.monotonic())
            else:
                result.failures.append(time.monotonic())

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session, offset) for offset in range(concurrency)))
    return result


class LoadGenerator:
    """Sends ``/v1/score`` requests from ``concurrency`` clients on a background thread until stopped."""

    def __init__(self, url: str, bodies: list[dict[str, Any]], concurrency: int) -> None:
        import threading

        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._result: LoadResult | None = None

        def run() -> None:
            self._result = self._loop.run_until_complete(_load(url, bodies, concurrency, self._stop))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> LoadResult:
        """Stop sending and return what was seen."""
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        assert self._result is not None, "the load generator did not finish"
        return self._result
