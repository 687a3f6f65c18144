"""The life of one query: plan, run on its own DuckDB connection, encode pages ahead of the client, audit.

A query runs in a worker thread. Result batches are encoded to Trino's JSON rows as they arrive and kept a few
pages ahead of the client (so encoding overlaps the client's decoding), never more: a slow client holds the
query back instead of filling memory. The HTTP side only waits for pages (:meth:`Query.wait_for`).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog

from lake.duck import confine_to_warehouse, connect
from lake.errors import SqlEndpointError
from lake.settings import Settings
from serving.sql.audit import AuditEntry, QueryLog
from serving.sql.datetime_functions import SESSION_TIME_ZONE
from serving.sql.errors import QueryError
from serving.sql.limits import Deadline, too_many_rows
from serving.sql.metadata import LakeMetadata
from serving.sql.planning import Plan, Planner, register_virtual_tables
from serving.sql.protocol import ClientSession
from serving.sql.rules import AccessRules, Identity
from serving.sql.translation import SessionScope, Translator
from serving.sql.types import TrinoType, from_duckdb

PAGE_ROWS = 16_384
"""Rows per result page (Trino aims at pages of about a megabyte)."""
PAGES_AHEAD = 3
"""Pages encoded ahead of what the client acknowledged."""


class Engine:
    """What every query shares: settings, the DuckDB database, the catalog view, the rules and the audit log."""

    def __init__(self, settings: Settings, catalog: Catalog, rules: AccessRules, query_log: QueryLog) -> None:
        """Open the shared DuckDB database and catalog view.

        Raises:
            SqlEndpointError: the catalog is not a SQL (JDBC-layout) catalog the endpoint can watch.
        """
        if not isinstance(catalog, SqlCatalog):
            raise SqlEndpointError(f"the SQL endpoint needs a SqlCatalog, got {type(catalog).__name__}")
        self.settings = settings
        self.database = connect(settings)
        self.database.execute(f"SET GLOBAL TimeZone = '{SESSION_TIME_ZONE}'")
        confine_to_warehouse(self.database, settings)
        self.metadata = LakeMetadata(catalog)
        self.translator = Translator(rules, settings.sql.catalog)
        self.planner = Planner(self.translator, settings.sql.query_timeout_s)
        self.query_log = query_log

    def close(self) -> None:
        """Close the DuckDB database."""
        self.database.close()


@dataclass(frozen=True)
class Progress:
    """What the client is told in answer to one request for page ``token``."""

    state: str
    columns: list[dict[str, Any]] | None
    data: bytes | None
    next_token: int | None
    error: QueryError | None
    update_type: str | None
    headers: dict[str, str]
    rows: int
    elapsed_ms: int


class Query:
    """One statement from submission to its last page."""

    def __init__(self, engine: Engine, identity: Identity, session: ClientSession, sql: str) -> None:
        self.id = f"{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:5]}_lakeforge"
        self.slug = uuid.uuid4().hex
        self.engine = engine
        self.identity = identity
        self.session = session
        self.sql = sql
        self.started_at = datetime.now(UTC)
        self.last_access = time.monotonic()
        self._start = time.perf_counter()
        self._changed = threading.Condition()
        self._state = "QUEUED"
        self._types: list[TrinoType] | None = None
        self._names: list[str] = []
        self._pages: dict[int, bytes] = {}
        self._produced = 0
        self._acknowledged = 0
        self._rows = 0
        self._done = False
        self._error: QueryError | None = None
        self._plan = Plan()
        self._cancelled: QueryError | None = None
        """Why the query was stopped from outside (cancelled or abandoned), once it was."""
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._finished_ms: int | None = None

    def run(self) -> None:
        """Plan and execute the statement, publishing pages until done, failed or cancelled (worker thread)."""
        cursor = self.engine.database.cursor()
        deadline: Deadline | None = None
        try:
            # a bad query_max_run_time fails the query here; outside the try it left the query queued for good
            deadline = Deadline(self.engine.planner.timeout_s(self.session), cursor.interrupt)
            with self._changed:
                self._cursor, self._state = cursor, "RUNNING"
            deadline.start()
            if self._cancelled:
                raise self._cancelled
            self._execute(cursor, deadline)
            self._finish(None)
        except QueryError as error:
            self._finish(error)
        except duckdb.InterruptException:
            timed_out = deadline.error() if deadline is not None and deadline.expired else None
            self._finish(timed_out or self._cancelled or _canceled())
        except duckdb.Error as error:
            self._finish(_from_duckdb(error))
        except Exception as error:  # the server answers every failure as a Trino error, never a crash
            self._finish(QueryError(f"internal error: {type(error).__name__}: {error}", "GENERIC_INTERNAL_ERROR"))
        finally:
            if deadline is not None:
                deadline.stop()
            cursor.close()
            self._audit()

    def _execute(self, cursor: duckdb.DuckDBPyConnection, deadline: Deadline) -> None:
        scope = SessionScope(self.identity, self.engine.settings.sql.catalog, self.session.catalog, self.session.schema)
        view = self.engine.metadata.view()
        plan = self.engine.planner.plan(self.sql, self.session, scope, view, cursor)
        with self._changed:
            self._plan = plan
        if plan.sql is None:
            return
        register_virtual_tables(cursor, plan.virtual_tables)
        cursor.execute(plan.sql, plan.parameters or None)
        description = cursor.description or []
        types = [from_duckdb(entry[1]) for entry in description]
        with self._changed:
            self._names = [entry[0] for entry in description]
            self._types = types
            self._changed.notify_all()
        limit = self.engine.settings.sql.max_result_rows
        for batch in cursor.to_arrow_reader(PAGE_ROWS):
            if self._rows + batch.num_rows > limit:
                raise too_many_rows(limit)
            columns = [kind.encode_array(batch.column(i)) for i, kind in enumerate(types)]
            self._publish(orjson.dumps(list(zip(*columns, strict=True))), batch.num_rows, deadline)

    def _publish(self, page: bytes, rows: int, deadline: Deadline) -> None:
        with self._changed:
            while self._produced - self._acknowledged >= PAGES_AHEAD and not self._cancelled:
                if deadline.expired:
                    raise deadline.error()
                self._changed.wait(timeout=0.5)
            if self._cancelled:
                raise self._cancelled
            self._pages[self._produced] = page
            self._produced += 1
            self._rows += rows
            self._changed.notify_all()

    def _finish(self, error: QueryError | None) -> None:
        with self._changed:
            self._error = error
            self._done = True
            self._finished_ms = self._elapsed_ms()
            self._changed.notify_all()

    def _elapsed_ms(self) -> int:
        return int((time.perf_counter() - self._start) * 1000)

    def cancel(self, reason: QueryError | None = None) -> None:
        """Stop the query where it runs, failing it with ``reason`` (default: the client sent DELETE)."""
        with self._changed:
            self._cancelled = reason or _canceled()
            cursor = None if self._done else self._cursor
            self._changed.notify_all()
        if cursor is not None:
            with contextlib.suppress(duckdb.Error):
                cursor.interrupt()

    def abandon(self, timeout_s: float) -> None:
        """Stop the query because its client has not asked about it for ``timeout_s`` (as Trino does)."""
        self.cancel(
            QueryError(
                f"Query {self.id} was abandoned by the client, as it may have exited or stopped checking for query "
                f"results: not asked about for {timeout_s:g} s",
                "ABANDONED_QUERY",
            )
        )

    @property
    def done(self) -> bool:
        """Whether the query finished, failed or was cancelled (its pages may still be unread)."""
        with self._changed:
            return self._done

    def wait_for(self, token: int, timeout_s: float) -> Progress:
        """Wait up to ``timeout_s`` for page ``token`` (or the end) and describe what to answer.

        Asking for page ``token`` acknowledges every page before it. Once the page is there, waiting goes on
        (within the timeout) until the next page or the end is known, so a one-page result is answered without
        a ``nextUri`` and costs the client a single round trip.
        """
        self.last_access = time.monotonic()
        deadline = time.monotonic() + timeout_s
        with self._changed:
            if token > self._acknowledged:
                for old in [t for t in self._pages if t < token]:
                    del self._pages[old]
                self._acknowledged = token
                self._changed.notify_all()
            while not self._done and (token not in self._pages or token + 1 not in self._pages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._progress(token)

    def _progress(self, token: int) -> Progress:
        page = self._pages.get(token)
        error = self._error
        if error is not None:
            next_token, page = None, None
        elif page is not None:
            last = self._done and token == self._produced - 1
            next_token = None if last else token + 1
        else:
            next_token = None if self._done else token
        finished = next_token is None
        state = "FAILED" if error else "FINISHED" if finished else self._state
        columns = None
        if self._types is not None:
            columns = [kind.column(name) for name, kind in zip(self._names, self._types, strict=True)]
        return Progress(
            state=state,
            columns=columns,
            data=page,
            next_token=next_token,
            error=error,
            update_type=self._plan.update_type,
            headers=dict(self._plan.headers),
            rows=self._rows,
            elapsed_ms=self._finished_ms if self._finished_ms is not None else self._elapsed_ms(),
        )

    def _audit(self) -> None:
        error = self._error
        state = "FINISHED" if error is None else "CANCELED" if error.name == "USER_CANCELED" else "FAILED"
        self.engine.query_log.record(
            AuditEntry(
                query_id=self.id,
                user_name=self.identity.user,
                source=self.session.source,
                sql=self.sql,
                state=state,
                rows=self._rows,
                duration_ms=self._finished_ms or self._elapsed_ms(),
                error_name=error.name if error else None,
                error_message=error.message if error else None,
                started_at=self.started_at,
            )
        )


def _canceled() -> QueryError:
    return QueryError("Query was canceled", "USER_CANCELED")


_DUCKDB_ERRORS: list[tuple[type[duckdb.Error], str]] = [
    (duckdb.ParserException, "SYNTAX_ERROR"),
    (duckdb.ConversionException, "INVALID_CAST_ARGUMENT"),
    (duckdb.OutOfRangeException, "NUMERIC_VALUE_OUT_OF_RANGE"),
    (duckdb.OutOfMemoryException, "EXCEEDED_LOCAL_MEMORY_LIMIT"),
    (duckdb.InvalidInputException, "INVALID_FUNCTION_ARGUMENT"),
    (duckdb.CatalogException, "FUNCTION_NOT_FOUND"),
    (duckdb.BinderException, "COLUMN_NOT_FOUND"),
]


def _from_duckdb(error: duckdb.Error) -> QueryError:
    """A DuckDB failure as the Trino error a client would get for the same mistake."""
    message = str(error).split("\n\nLINE ")[0].strip()
    for kind, name in _DUCKDB_ERRORS:
        if isinstance(error, kind):
            if name == "COLUMN_NOT_FOUND" and "column" not in message.lower():
                name = "TYPE_MISMATCH" if "type" in message.lower() else "GENERIC_USER_ERROR"
            return QueryError(message, name)
    return QueryError(message, "GENERIC_USER_ERROR")
