"""From one statement to what answers it: a governed DuckDB query, or a session change for the client.

Utility statements are answered the way Trino answers them: SHOW and DESCRIBE as queries over
``information_schema``; USE, SET/RESET SESSION, PREPARE, DEALLOCATE and transactions as response headers that
the client keeps (the server holds no session state); EXECUTE binds the client's prepared statement.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb
import pyarrow as pa

from serving.sql import statements as st
from serving.sql.errors import QueryError
from serving.sql.limits import parse_duration
from serving.sql.metadata import INFORMATION_SCHEMA, LakeView, show_create_table
from serving.sql.protocol import (
    HEADER_ADDED_PREPARE,
    HEADER_CLEAR_SESSION,
    HEADER_CLEAR_TRANSACTION,
    HEADER_DEALLOCATED_PREPARE,
    HEADER_SET_CATALOG,
    HEADER_SET_SCHEMA,
    HEADER_SET_SESSION,
    HEADER_STARTED_TRANSACTION,
    ClientSession,
)
from serving.sql.translation import Evaluate, SessionScope, Translator, bind_parameters, parse_trino, refuse_writes

SESSION_PROPERTIES = {"query_max_run_time": ("varchar", "Maximum run time of a query (a duration such as 30s)")}
"""Session properties the endpoint understands: name -> (type, description)."""


@dataclass
class Plan:
    """How to answer a statement: DuckDB SQL to stream (if any), and what to tell the client."""

    sql: str | None = None
    parameters: list[Any] = field(default_factory=list)
    virtual_tables: dict[str, pa.Table] = field(default_factory=dict)
    update_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _literal_result(columns: list[str], rows: list[tuple[Any, ...]]) -> Plan:
    """A small fixed result, computed by DuckDB from bound values so its types are DuckDB's own."""
    names = ", ".join(f'"{name}"' for name in columns)
    if not rows:
        return Plan(f"SELECT {', '.join(f'NULL::VARCHAR AS {n}' for n in names.split(', '))} LIMIT 0")
    placeholders = ", ".join("(" + ", ".join("?::VARCHAR" for _ in columns) + ")" for _ in rows)
    return Plan(
        f"SELECT * FROM (VALUES {placeholders}) AS t({names})",
        [value for row in rows for value in row],
    )


class Planner:
    """Plans the statements of one request."""

    def __init__(self, translator: Translator, default_timeout_s: float) -> None:
        self.translator = translator
        self.default_timeout_s = default_timeout_s

    def plan(
        self, sql: str, session: ClientSession, scope: SessionScope, view: LakeView, cursor: duckdb.DuckDBPyConnection
    ) -> Plan:
        """Plan one statement.

        Args:
            sql: the statement as the client sent it.
            session: the client's session headers.
            scope: identity and default catalog/schema.
            view: the catalog as of this statement.
            cursor: the statement's own DuckDB connection (time travel and EXPLAIN run small queries on it).

        Raises:
            QueryError: the statement is invalid, refused, or names something that does not exist.
        """
        statement = st.classify(sql)
        if isinstance(statement, st.Execute):
            if statement.name not in session.prepared:
                raise QueryError(f"Prepared statement not found: {statement.name}", "NOT_FOUND")
            return self._plan_bound(
                session.prepared[statement.name], statement.parameters, session, scope, view, cursor
            )
        if isinstance(statement, st.ExecuteImmediate):
            return self._plan_bound(statement.statement, statement.parameters, session, scope, view, cursor)
        return self._plan_statement(statement, session, scope, view, cursor)

    def _plan_bound(
        self,
        sql: str,
        parameters: str | None,
        session: ClientSession,
        scope: SessionScope,
        view: LakeView,
        cursor: duckdb.DuckDBPyConnection,
    ) -> Plan:
        statement = st.classify(sql)
        if not isinstance(statement, st.Query):
            if parameters:
                raise QueryError("only queries take parameters", "INVALID_PARAMETER_USAGE")
            return self._plan_statement(statement, session, scope, view, cursor)
        expression = bind_parameters(statement.sql, parameters)
        translated = self.translator.translate(expression, scope, view, _evaluator(cursor))
        return Plan(translated.sql, virtual_tables=translated.virtual_tables)

    def _query(self, sql: str, scope: SessionScope, view: LakeView, cursor: duckdb.DuckDBPyConnection) -> Plan:
        translated = self.translator.translate(parse_trino(sql), scope, view, _evaluator(cursor))
        return Plan(translated.sql, virtual_tables=translated.virtual_tables)

    def _plan_statement(
        self,
        statement: st.Statement,
        session: ClientSession,
        scope: SessionScope,
        view: LakeView,
        cursor: duckdb.DuckDBPyConnection,
    ) -> Plan:
        catalog = self.translator.catalog_name
        if isinstance(statement, st.Query):
            return self._query(statement.sql, scope, view, cursor)
        if isinstance(statement, st.ShowCatalogs | st.ShowSchemas):
            return self._query(
                st.show_as_query(statement, statement_catalog(statement, scope), None), scope, view, cursor
            )
        if isinstance(statement, st.ShowTables):
            target_catalog, schema = self._schema_of(statement.schema, scope)
            self._require_schema(target_catalog, schema, scope, view)
            return self._query(st.show_as_query(statement, target_catalog, schema), scope, view, cursor)
        if isinstance(statement, st.ShowColumns | st.ShowCreateTable):
            table_catalog, schema, name = self.translator.qualify_name(statement.table, scope)
            lake_table = view.table(schema, name)
            policy = self.translator.rules.table_policy(scope.identity, table_catalog, schema, name)
            if lake_table is None or table_catalog != catalog or not policy.visible:
                raise QueryError(f"Table '{table_catalog}.{schema}.{name}' does not exist", "TABLE_NOT_FOUND")
            if isinstance(statement, st.ShowColumns):
                return self._query(st.columns_query(table_catalog, schema, name), scope, view, cursor)
            create = show_create_table(catalog, lake_table, hidden=policy.hidden_columns)
            return _literal_result(["Create Table"], [(create,)])
        if isinstance(statement, st.ShowSession):
            return self._show_session(session, statement.like, statement.escape)
        if isinstance(statement, st.Use):
            return self._use(statement, scope, view)
        if isinstance(statement, st.Explain):
            return self._explain(statement, scope, view, cursor)
        if isinstance(statement, st.Prepare):
            inner = st.classify(statement.statement)
            if isinstance(inner, st.Query):
                refuse_writes(parse_trino(inner.sql))
            return Plan(update_type="PREPARE", headers={HEADER_ADDED_PREPARE: _prepare_header(statement)})
        if isinstance(statement, st.Deallocate):
            if statement.name not in session.prepared:
                raise QueryError(f"Prepared statement not found: {statement.name}", "NOT_FOUND")
            return Plan(update_type="DEALLOCATE", headers={HEADER_DEALLOCATED_PREPARE: statement.name})
        if isinstance(statement, st.SetSession):
            value = _session_value(statement)
            return Plan(update_type="SET SESSION", headers={HEADER_SET_SESSION: f"{statement.name}={quote(value)}"})
        if isinstance(statement, st.ResetSession):
            _known_property(statement.name)
            return Plan(update_type="RESET SESSION", headers={HEADER_CLEAR_SESSION: statement.name})
        if isinstance(statement, st.StartTransaction):
            return Plan(update_type="START TRANSACTION", headers={HEADER_STARTED_TRANSACTION: str(uuid.uuid4())})
        assert isinstance(statement, st.EndTransaction)
        return Plan(
            update_type="COMMIT" if statement.commit else "ROLLBACK", headers={HEADER_CLEAR_TRANSACTION: "true"}
        )

    def _schema_of(self, parts: list[str] | None, scope: SessionScope) -> tuple[str, str]:
        if parts is None:
            if scope.default_schema is None:
                raise QueryError("Schema must be specified when session schema is not set", "MISSING_SCHEMA_NAME")
            parts = [scope.default_schema]
        if len(parts) == 1:
            if scope.default_catalog is None:
                raise QueryError("Catalog must be specified when session catalog is not set", "MISSING_CATALOG_NAME")
            parts = [scope.default_catalog, *parts]
        return parts[0], parts[1]

    def _require_schema(self, catalog: str, schema: str, scope: SessionScope, view: LakeView) -> None:
        if catalog != self.translator.catalog_name:
            if catalog != "system":
                raise QueryError(f"Catalog '{catalog}' not found", "CATALOG_NOT_FOUND")
            return
        if schema != INFORMATION_SCHEMA and schema not in self.translator.visible(scope.identity, view).schemas:
            raise QueryError(f"Schema '{schema}' does not exist", "SCHEMA_NOT_FOUND")

    def _use(self, statement: st.Use, scope: SessionScope, view: LakeView) -> Plan:
        catalog, schema = self._schema_of(statement.target, scope)
        self._require_schema(catalog, schema, scope, view)
        return Plan(update_type="USE", headers={HEADER_SET_CATALOG: catalog, HEADER_SET_SCHEMA: schema})

    def _explain(
        self, statement: st.Explain, scope: SessionScope, view: LakeView, cursor: duckdb.DuckDBPyConnection
    ) -> Plan:
        inner = st.classify(statement.statement)
        if not isinstance(inner, st.Query):
            raise QueryError("EXPLAIN supports queries only", "NOT_SUPPORTED")
        plan = self._query(inner.sql, scope, view, cursor)
        register_virtual_tables(cursor, plan.virtual_tables)
        verb = "EXPLAIN ANALYZE" if statement.analyze else "EXPLAIN"
        rows = cursor.execute(f"{verb} {plan.sql}").fetchall()
        return _literal_result(["Query Plan"], [("\n".join(str(row[-1]) for row in rows),)])

    def _show_session(self, session: ClientSession, like: str | None, escape: str | None) -> Plan:
        default = f"{self.default_timeout_s:g}s"
        rows = [
            (name, session.properties.get(name, default), default, kind, description)
            for name, (kind, description) in SESSION_PROPERTIES.items()
            if like is None or _like(name, like, escape)
        ]
        return _literal_result(["Name", "Value", "Default", "Type", "Description"], rows)

    def timeout_s(self, session: ClientSession) -> float:
        """The run-time limit of this session's queries: the setting, lowered by ``query_max_run_time``."""
        requested = session.properties.get("query_max_run_time")
        if requested is None:
            return self.default_timeout_s
        return min(self.default_timeout_s, parse_duration(requested))


def register_virtual_tables(cursor: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> None:
    """Make the plan's ``information_schema``/``system`` tables readable on the statement's connection."""
    for name, table in tables.items():
        cursor.register(name, table)


def _evaluator(cursor: duckdb.DuckDBPyConnection) -> Evaluate:
    def evaluate(expression: str) -> Any:
        row = cursor.execute(f"SELECT {expression}").fetchone()
        return row[0] if row else None

    return evaluate


def statement_catalog(statement: st.ShowCatalogs | st.ShowSchemas, scope: SessionScope) -> str:
    """The catalog a SHOW CATALOGS/SCHEMAS reads from."""
    if isinstance(statement, st.ShowSchemas):
        catalog = statement.catalog or scope.default_catalog
        if catalog is None:
            raise QueryError("Catalog must be specified when session catalog is not set", "MISSING_CATALOG_NAME")
        return catalog
    return "system"


def _prepare_header(statement: st.Prepare) -> str:
    return f"{statement.name}={quote_plus(statement.statement)}"


def _known_property(name: str) -> None:
    if name not in SESSION_PROPERTIES:
        known = ", ".join(SESSION_PROPERTIES)
        raise QueryError(f"Session property '{name}' does not exist (known: {known})", "INVALID_SESSION_PROPERTY")


def _session_value(statement: st.SetSession) -> str:
    _known_property(statement.name)
    value = statement.value.strip()
    if value.startswith("'") and value.endswith("'"):
        value = value[1:-1].replace("''", "'")
    parse_duration(value)
    return value


def _like(value: str, pattern: str, escape: str | None = None) -> bool:
    """SQL LIKE: ``%`` any text, ``_`` one character, either taken literally after the ``escape`` character."""
    parts, escaped = [], False
    for character in pattern:
        if escaped or character not in ("%", "_", escape):
            parts.append(re.escape(character))
            escaped = False
        elif character == escape:
            escaped = True
        else:
            parts.append(".*" if character == "%" else ".")
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None
