"""The HTTP face of the endpoint: Trino's client REST protocol on aiohttp (asyncio).

``POST /v1/statement`` submits a statement and answers with its first page when it is ready within a second
(small queries need one round trip), ``GET`` on ``nextUri`` pages through the rest, ``DELETE`` cancels, and
``GET /v1/info`` says who is serving. Every request is authenticated; queries run in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import orjson
from aiohttp import web

from lake.catalog import load_catalog
from lake.settings import PROJECT_ROOT, Settings
from serving.sql.audit import QueryLog
from serving.sql.auth import AuthenticationFailed, Authenticator, load_group_file, load_password_file
from serving.sql.execution import Engine, Progress, Query
from serving.sql.protocol import parse_session, query_stats
from serving.sql.rules import Identity, load_rules

log = logging.getLogger(__name__)

SHIPPED_RULES = PROJECT_ROOT / "deploy" / "trino" / "rules.json"
"""Rules used when ``settings.sql.rules_file`` is unset."""
SHIPPED_GROUPS = PROJECT_ROOT / "deploy" / "trino" / "group.txt"
"""Groups used when ``settings.sql.group_file`` is unset (the shipped rules grant by group)."""
FIRST_PAGE_WAIT_S = 1.0
"""How long a submission waits for its first page before answering ``QUEUED``/``RUNNING``."""
PAGE_WAIT_S = 1.0
"""How long a ``nextUri`` request waits for the next page (Trino's default ``maxWait``)."""
AUDIT_FLUSH_INTERVAL_S = 5.0
"""Buffered audit entries are appended, and abandoned queries stopped, at least this often."""
WORKERS = 32
"""Queries running (or holding unread pages) at once."""

ENGINE_KEY = web.AppKey("engine", Engine)
STARTED_KEY = web.AppKey("started", float)


class ServerState:
    """The running queries and the authenticator of one server."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self.queries: dict[str, Query] = {}
        self.lock = threading.Lock()
        self.workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lakeforge-sql")


STATE_KEY = web.AppKey("state", ServerState)


def build_app(settings: Settings) -> web.Application:
    """The aiohttp application serving Trino's protocol over the lake of ``settings``.

    Raises:
        SqlEndpointError: the rules, password or group file cannot be used.
    """
    sql = settings.sql
    rules = load_rules(sql.rules_file or SHIPPED_RULES)
    passwords = load_password_file(sql.password_file) if sql.password_file else None
    groups = load_group_file(sql.group_file or SHIPPED_GROUPS)
    if passwords is None:
        log.warning(
            "authentication is OFF: any client may claim any user. Set LAKEFORGE_SQL__PASSWORD_FILE to a "
            "Trino password file to require passwords."
        )
    catalog = load_catalog(settings)
    engine = Engine(settings, catalog, rules, QueryLog(catalog))
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[ENGINE_KEY] = engine
    app[STATE_KEY] = ServerState(Authenticator(passwords, groups))
    app.router.add_post("/v1/statement", submit)
    app.router.add_get("/v1/statement/executing/{query_id}/{slug}/{token}", next_page)
    app.router.add_delete("/v1/statement/executing/{query_id}/{slug}/{token}", cancel)
    app.router.add_get("/v1/query/{query_id}", query_info)
    app.router.add_get("/v1/info", info)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Flush the audit log and abandon the queries nobody asks about while serving; flush once more on shutdown."""
    engine, state = app[ENGINE_KEY], app[STATE_KEY]
    app[STARTED_KEY] = time.time()

    async def housekeeping() -> None:
        while True:
            await asyncio.sleep(AUDIT_FLUSH_INTERVAL_S)
            await asyncio.to_thread(_flush_audit, engine)
            _abandon_stale(state, engine.settings.sql.client_timeout_s)

    task = asyncio.create_task(housekeeping())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with state.lock:
        running = list(state.queries.values())
    for query in running:
        query.cancel()
    state.workers.shutdown(wait=True)
    _flush_audit(engine)
    engine.close()


def _flush_audit(engine: Engine) -> None:
    try:
        engine.query_log.append_buffered()
    except Exception:  # a failed audit write is retried at the next flush, never lost or fatal
        log.exception("could not append to the query log; the entries stay buffered")


def _abandon_stale(state: ServerState, timeout_s: float) -> None:
    """Stop and forget the queries whose client has not asked about them for ``timeout_s`` (it may have exited or
    stopped reading results): a running one fails with ``ABANDONED_QUERY``, unread pages are dropped."""
    cutoff = time.monotonic() - timeout_s
    with state.lock:
        stale = [query_id for query_id, query in state.queries.items() if query.last_access < cutoff]
        for query_id in stale:
            state.queries.pop(query_id).abandon(timeout_s)


def _authenticate(request: web.Request) -> Identity:
    """The request's identity, or HTTP 401 with a basic-auth challenge."""
    try:
        return request.app[STATE_KEY].authenticator.identify(
            request.headers.get("Authorization"), request.headers.get("X-Trino-User")
        )
    except AuthenticationFailed as error:
        raise web.HTTPUnauthorized(text=str(error), headers={"WWW-Authenticate": 'Basic realm="Trino"'}) from None


async def submit(request: web.Request) -> web.Response:
    """``POST /v1/statement``: start a statement and answer with its first page, if ready soon."""
    state = request.app[STATE_KEY]
    identity = _authenticate(request)
    sql = (await request.read()).decode("utf-8", errors="replace")
    if not sql.strip():
        raise web.HTTPBadRequest(text="SQL statement is empty")
    query = Query(request.app[ENGINE_KEY], identity, parse_session(request.headers), sql)
    with state.lock:
        state.queries[query.id] = query
    state.workers.submit(query.run)
    progress = await asyncio.to_thread(query.wait_for, 0, FIRST_PAGE_WAIT_S)
    return _respond(request, state, query, progress, 0)


def _query_of(request: web.Request) -> tuple[ServerState, Query, int]:
    state = request.app[STATE_KEY]
    identity = _authenticate(request)
    with state.lock:
        query = state.queries.get(request.match_info["query_id"])
    if query is None or query.slug != request.match_info["slug"] or query.identity.user != identity.user:
        raise web.HTTPNotFound(text=f"Query not found: {request.match_info['query_id']}")
    try:
        token = int(request.match_info["token"])
    except ValueError:
        raise web.HTTPNotFound(text="Query token is not a number") from None
    return state, query, token


async def next_page(request: web.Request) -> web.Response:
    """``GET nextUri``: the next page, or the query's progress when no page is ready within a second."""
    state, query, token = _query_of(request)
    progress = await asyncio.to_thread(query.wait_for, token, PAGE_WAIT_S)
    return _respond(request, state, query, progress, token)


async def cancel(request: web.Request) -> web.Response:
    """``DELETE nextUri``: cancel the query where it runs."""
    state, query, _ = _query_of(request)
    query.cancel()
    with state.lock:
        state.queries.pop(query.id, None)
    return web.Response(status=204)


async def query_info(request: web.Request) -> web.Response:
    """``GET /v1/query/{id}`` (the ``infoUri``): the query's state."""
    state, user = request.app[STATE_KEY], _authenticate(request).user
    with state.lock:
        query = state.queries.get(request.match_info["query_id"])
    if query is None or query.identity.user != user:
        raise web.HTTPNotFound(text=f"Query not found: {request.match_info['query_id']}")
    progress = query.wait_for(-1, 0)
    body = {"queryId": query.id, "state": progress.state, "query": query.sql, "session": {"user": user}}
    return web.json_response(body)


async def info(request: web.Request) -> web.Response:
    """``GET /v1/info``: server version and uptime, as Trino reports them."""
    uptime = time.time() - request.app[STARTED_KEY]
    return web.json_response(
        {
            "nodeVersion": {"version": "lakeforge-sql"},
            "environment": "lakeforge",
            "coordinator": True,
            "starting": False,
            "uptime": f"{uptime:.2f}s",
        }
    )


def _respond(request: web.Request, state: ServerState, query: Query, progress: Progress, token: int) -> web.Response:
    base = f"{request.scheme}://{request.host}"
    document: dict[str, object] = {
        "id": query.id,
        "infoUri": f"{base}/v1/query/{query.id}",
        "stats": query_stats(progress.state, progress.elapsed_ms, progress.rows, queued=progress.state == "QUEUED"),
        "warnings": [],
    }
    if progress.next_token is not None:
        document["nextUri"] = f"{base}/v1/statement/executing/{query.id}/{query.slug}/{progress.next_token}"
    else:
        with state.lock:
            state.queries.pop(query.id, None)
    if progress.columns is not None:
        document["columns"] = progress.columns
    if progress.error is not None:
        document["error"] = progress.error.to_trino()
    if progress.update_type is not None:
        document["updateType"] = progress.update_type
    body = orjson.dumps(document)
    if progress.data is not None:
        body = body[:-1] + b',"data":' + progress.data + b"}"
    return web.Response(body=body, content_type="application/json", headers=progress.headers)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the endpoint until interrupted (Ctrl-C or SIGTERM), flushing the audit log on the way out.

    The objects loaded at start (catalog, DuckDB, libraries) are frozen out of the garbage collector, so the
    collections that result pages trigger stay short instead of rescanning the whole heap.

    Raises:
        SqlEndpointError: the rules, password or group file cannot be used.
    """
    app = build_app(settings)
    gc.freeze()
    web.run_app(
        app,
        host=host or settings.sql.host,
        port=port or settings.sql.port,
        print=lambda message: log.info(message),
        access_log=None,
    )


class BackgroundServer:
    """The endpoint on a free port in a background thread, for tests, benchmarks and scripts.

    Use as a context manager; leaving it shuts the server down as ``serve`` does (audit flushed).
    """

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = build_app(settings)
        self._host, self._port = host, port
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self.port = 0

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the SQL endpoint did not start within 30 s")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        self._loop.close()
