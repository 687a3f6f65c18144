"""The scoring service: one FastAPI ingress on Ray Serve, batching feature lookups and model calls.

``serve run serving.scoring.app:app`` (or the committed ``serve_config.yaml``) starts it with the settings of
the replicas' environment; ``lakeforge serve`` calls :func:`build_app` with the CLI's settings. Concurrent
requests (and the transactions of a batch request) are gathered by ``@serve.batch`` into one Feast lookup and
one XGBoost call. A background thread follows the champion alias every ``refresh_seconds``; a new champion is
swapped in without a restart. Replica shutdown writes the prediction log's buffer before the process exits.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from lake.catalog import load_catalog
from lake.errors import ScoringError
from lake.settings import Settings, get_settings
from serving.scoring.auth import ApiKeyCheck, bearer
from serving.scoring.metrics import LATENCY, REQUESTS, exposition
from serving.scoring.prediction_log import PredictionLog
from serving.scoring.ray_serve import Application, serve
from serving.scoring.schemas import BatchRequest, BatchScore, Health, Problem, Score, Transaction
from serving.scoring.scorer import TransactionScorer

log = logging.getLogger(__name__)

MAX_BATCH_TRANSACTIONS = 1_000
"""Transactions accepted by one ``/v1/score/batch`` call; more answer 413."""
MAX_BODY_BYTES = 1_000_000
"""Largest request body accepted; larger answer 413 before being read."""
ROUTES = ("/v1/score", "/v1/score/batch", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")

api = FastAPI(
    title="Lakeforge fraud scoring",
    version="1",
    description="Scores card transactions with the champion fraud model on online features from fraud_model_v1.",
)


@api.middleware("http")
async def _measure_and_limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    route = request.url.path if request.url.path in ROUTES else "other"
    length = request.headers.get("content-length", "0")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        response: Response = JSONResponse(
            {"detail": f"request body of {length} bytes exceeds the {MAX_BODY_BYTES:,}-byte limit; split it"},
            status_code=413,
        )
    else:
        response = await call_next(request)
    REQUESTS.labels(route, str(response.status_code)).inc()
    LATENCY.labels(route).observe(time.perf_counter() - started)
    return response


@api.exception_handler(ScoringError)
async def _unavailable(request: Request, error: ScoringError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=503)


class ServiceOptions(BaseModel, extra="forbid"):
    """Tunables of a running service (Serve ``user_config``; changing them reconfigures without a restart)."""

    refresh_seconds: float = Field(default=2.0, gt=0)
    """How often the champion alias, feature freshness and card holders are re-read."""
    flush_seconds: float = Field(default=2.0, gt=0)
    """Longest time a prediction waits in memory before it is written."""
    max_buffered_rows: int = Field(default=5_000, gt=0)
    """Predictions held in memory at most: the most a crash can lose."""
    max_batch_size: int = Field(default=64, gt=0)
    """Transactions scored by one feature lookup and one model call."""
    batch_wait_timeout_s: float = Field(default=0.0, ge=0)
    """How long a batch waits to fill up (0: it takes what queued while the previous batch ran)."""


DEFAULT_OPTIONS = ServiceOptions()


class FraudScorer:
    """One replica: feature store, champion model, prediction log, and a thread keeping them current."""

    def __init__(self, settings: Settings | None = None) -> None:
        """Open everything a replica needs.

        Args:
            settings: settings to serve with; default: the replica's environment (``LAKEFORGE_*``).
        """
        self._settings = settings or get_settings()
        self._options = DEFAULT_OPTIONS
        self._auth = ApiKeyCheck(self._settings.scoring.api_keys)
        self._scorer = TransactionScorer(self._settings)
        self._log = PredictionLog(load_catalog(self._settings), DEFAULT_OPTIONS.flush_seconds)
        self._stop = threading.Event()
        self._refresher = threading.Thread(target=self._refresh_periodically, name="champion-refresh", daemon=True)
        self._refresher.start()

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Apply new :class:`ServiceOptions` (Serve calls this at start and on every ``user_config`` change)."""
        self._options = ServiceOptions(**config)
        self._log.flush_seconds = self._options.flush_seconds
        self._log.max_buffered_rows = self._options.max_buffered_rows
        batching = self._score_batch  # Serve's batch wrapper; its setters are not in its type hints
        batching.set_max_batch_size(self._options.max_batch_size)  # type: ignore[attr-defined]
        batching.set_batch_wait_timeout_s(self._options.batch_wait_timeout_s)  # type: ignore[attr-defined]

    def _refresh_periodically(self) -> None:
        while not self._stop.wait(self._options.refresh_seconds):
            try:
                self._scorer.refresh()
            except Exception:
                log.exception("refreshing the champion and feature freshness failed; retrying")

    @serve.batch(
        max_batch_size=DEFAULT_OPTIONS.max_batch_size, batch_wait_timeout_s=DEFAULT_OPTIONS.batch_wait_timeout_s
    )
    async def _score_batch(self, transactions: list[BaseModel]) -> list[Score]:
        scored = self._scorer.score([transaction.model_dump() for transaction in transactions])
        self._log.add(scored.log_rows)
        return scored.scores

    @api.post("/v1/score", response_model=Score, responses={401: {"model": Problem}, 503: {"model": Problem}})
    async def score(
        self,
        transaction: Transaction,  # type: ignore[valid-type]
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> Score:
        """Score one transaction: fraud probability, decision, reasons, unknown entities, feature freshness."""
        self._auth.verify(credentials)
        return await self._score_batch(transaction)

    @api.post(
        "/v1/score/batch",
        response_model=BatchScore,
        responses={401: {"model": Problem}, 413: {"model": Problem}, 503: {"model": Problem}},
    )
    async def score_batch(
        self, batch: BatchRequest, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> BatchScore | JSONResponse:
        """Score up to MAX_BATCH_TRANSACTIONS transactions; answers keep the request order."""
        self._auth.verify(credentials)
        count = len(batch.transactions)
        if count > MAX_BATCH_TRANSACTIONS:
            return JSONResponse(
                {"detail": f"{count} transactions in one batch; send at most {MAX_BATCH_TRANSACTIONS} per call"},
                status_code=413,
            )
        scores = await asyncio.gather(*(self._score_batch(item) for item in batch.transactions))
        return BatchScore(scores=scores)

    @api.get("/healthz", response_model=Health)
    async def healthz(self) -> Health:
        """Liveness: the replica answers."""
        return Health(status="ok", model_version=self._scorer.champion.version)

    @api.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz(self) -> Health | JSONResponse:
        """Readiness: a champion model is loaded (503 with the reason otherwise)."""
        champion = self._scorer.champion
        if champion.version is None:
            return JSONResponse(Health(status="not ready", detail=champion.problem).model_dump(), status_code=503)
        return Health(status="ok", model_version=champion.version)

    @api.get("/metrics", response_class=Response)
    async def metrics(self) -> Response:
        """Prometheus metrics of this replica."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    def __del__(self) -> None:
        """Graceful shutdown: stop the refresher and write every buffered prediction."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
            written = self._log.close()
            log.warning("scoring replica stopped; wrote its last %d predictions", written)


SAME_THREAD = {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0"}
"""Serve's throughput setting: requests run on the replica's own event loop (scoring blocks it for a few ms per
batch, which is also what lets concurrent requests gather into the next batch)."""

AUTOSCALING: dict[str, Any] = {
    "min_replicas": 1,
    "max_replicas": 4,
    "target_ongoing_requests": 16,
    "look_back_period_s": 15,
    "upscale_delay_s": 2,
    "downscale_delay_s": 60,
}
"""1 to 4 replicas, a new one per 16 requests in flight, averaged over 15 s (Ray Serve requires a window longer than
its 10 s metrics interval; ``serve_config.yaml`` carries the same for clusters)."""

scorer_deployment = serve.deployment(
    name="FraudScorer",
    ray_actor_options={"num_cpus": 0.5, "runtime_env": {"env_vars": SAME_THREAD}},
    max_ongoing_requests=128,
    autoscaling_config=AUTOSCALING,
    user_config=DEFAULT_OPTIONS.model_dump(),
    health_check_period_s=5,
    graceful_shutdown_timeout_s=30,
)(serve.ingress(api)(FraudScorer))
"""The Serve deployment: half a CPU per replica, autoscaled as :data:`AUTOSCALING` says."""


def build_app(
    settings: Settings | None = None, options: ServiceOptions = DEFAULT_OPTIONS, max_replicas: int | None = None
) -> Application:
    """The scoring application for these settings and options.

    Args:
        settings: settings the replicas serve with; default: each replica's own environment.
        options: service tunables (the deployment's ``user_config``).
        max_replicas: a lower cap on replicas than :data:`AUTOSCALING`'s (a single machine gains nothing from
            more replicas than cores: they only compete for them).

    Returns:
        The bound application, for ``serve.run``.
    """
    autoscaling = {**AUTOSCALING, "max_replicas": min(AUTOSCALING["max_replicas"], max_replicas or 1_000)}
    return scorer_deployment.options(user_config=options.model_dump(), autoscaling_config=autoscaling).bind(settings)


app = scorer_deployment.bind()
