"""Trino SQL to DuckDB SQL with sqlglot, every table reference replaced by its governed form.

Each real table a query names (in joins, subqueries, CTEs, ``information_schema``) is resolved against the
session's catalog and schema, checked against the access rules, and replaced by a subquery over
``iceberg_scan`` that keeps only visible columns, applies column masks and the row filter, and reads the
snapshot that Trino's ``FOR VERSION AS OF`` / ``FOR TIMESTAMP AS OF`` asks for (a metadata table such as
``"orders$snapshots"`` by the same subquery over its rows, registered for the query). No path reaches a table
without passing through that subquery, so ``SELECT *``, joins and subqueries are all governed alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError, UnsupportedError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.tokens import TokenType

from lake.errors import CatalogError
from lake.tables import snapshot_id_as_of
from serving.sql.dates import keep_dates
from serving.sql.datetime_functions import SESSION_TIME_ZONE, rewrite_datetime_functions
from serving.sql.errors import QueryError, permission_denied
from serving.sql.iceberg_metadata import metadata_rows, metadata_table_name
from serving.sql.metadata import (
    INFORMATION_SCHEMA,
    INFORMATION_SCHEMA_TABLES,
    SYSTEM_CATALOG,
    SYSTEM_TABLES,
    LakeTable,
    LakeView,
    Visible,
    VisibleTable,
)
from serving.sql.rules import AccessRules, Identity, RuleExpression, TablePolicy

READ_ONLY_MESSAGE = "the Lakeforge SQL endpoint is read-only"

Evaluate = Callable[[str], Any]
"""Runs one DuckDB scalar expression and returns its value (used for ``FOR TIMESTAMP AS OF``)."""


@dataclass
class Translated:
    """A query ready for DuckDB: the SQL and the small Arrow tables it reads as ``information_schema``."""

    sql: str
    virtual_tables: dict[str, pa.Table] = field(default_factory=dict)


@dataclass(frozen=True)
class _Resolved:
    """A table reference the query may read: the node naming it, its schema, name and columns, the rules on it,
    and what it reads: an Iceberg table, or the registered rows of one of its metadata tables."""

    node: exp.Table
    schema: str
    name: str
    columns: tuple[str, ...]
    policy: TablePolicy
    lake_table: LakeTable | None = None
    registered: str | None = None


def parse_trino(sql: str) -> exp.Expression:
    """Parse one Trino statement.

    Raises:
        QueryError: ``SYNTAX_ERROR`` with the line and column of the offending token.
    """
    try:
        expressions = sqlglot.parse(sql, read="trino")
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        end_column = first.get("col")
        column = max(end_column - len(first.get("highlight") or "") + 1, 1) if end_column else None
        raise QueryError(
            f"mismatched input: {first.get('description', str(error))}", "SYNTAX_ERROR", first.get("line"), column
        ) from None
    except TokenError as error:  # an unterminated string, quoted identifier or comment
        raise QueryError(f"cannot read the statement: {error}", "SYNTAX_ERROR") from None
    statements = [expression for expression in expressions if expression is not None]
    if len(statements) != 1:
        raise QueryError("send exactly one statement per request", "SYNTAX_ERROR", 1, 1)
    return cast(exp.Expression, statements[0])


def bind_parameters(sql: str, parameters: str | None) -> exp.Expression:
    """Parse a prepared statement with its ``?`` placeholders replaced by the ``USING`` values, in the order the
    placeholders appear in the text (sqlglot's tree holds OFFSET before LIMIT and a query before its CTEs, so
    walking it would bind them in another order).

    Raises:
        QueryError: ``SYNTAX_ERROR`` for a statement that does not parse; ``INVALID_PARAMETER_USAGE`` when the
            counts differ.
    """
    parse_trino(sql)
    values = parse_trino(f"SELECT {parameters}").expressions if parameters else []
    tokens = sqlglot.Dialect.get_or_raise("trino").tokenize(sql)
    placeholders = [token for token in tokens if token.token_type == TokenType.PLACEHOLDER]
    if len(placeholders) != len(values):
        raise QueryError(
            f"Incorrect number of parameters: expected {len(placeholders)} but found {len(values)}",
            "INVALID_PARAMETER_USAGE",
        )
    bound, start = [], 0
    for token, value in zip(placeholders, values, strict=True):
        bound += [sql[start : token.start], value.sql(dialect="trino")]
        start = token.end + 1
    return parse_trino("".join([*bound, sql[start:]]))


READ_COMMANDS = ("SHOW", "DESCRIBE")
"""Statements that only read, of which the endpoint answers some forms (the planner's); the others are refused as
not supported rather than as writes."""


def refuse_writes(expression: exp.Expression) -> None:
    """Raise Trino's permission-denied error for anything but a query (``NOT_SUPPORTED`` for a SHOW or DESCRIBE form
    the endpoint does not answer, such as ``SHOW STATS``).

    Raises:
        QueryError: ``PERMISSION_DENIED`` naming the statement kind, or ``NOT_SUPPORTED`` naming the form.
    """
    if isinstance(expression, exp.Query):
        return
    if isinstance(expression, exp.Command) and str(expression.this).upper().startswith(READ_COMMANDS):
        form = " ".join(f"{expression.this} {expression.text('expression')}".upper().split()[:2])
        raise QueryError(
            f"{form} is not supported by the Lakeforge SQL endpoint; it answers SHOW CATALOGS, SCHEMAS, TABLES, "
            "COLUMNS, CREATE TABLE and SESSION, DESCRIBE, and queries on information_schema and system.jdbc",
            "NOT_SUPPORTED",
        )
    kind = expression.key.upper() if not isinstance(expression, exp.Command) else str(expression.this).upper()
    raise permission_denied(f"Cannot execute {kind} statement: {READ_ONLY_MESSAGE}")


@dataclass(frozen=True)
class SessionScope:
    """Who runs the query and where unqualified names resolve."""

    identity: Identity
    catalog: str
    default_catalog: str | None
    default_schema: str | None


class Translator:
    """Translates queries of one session under one set of access rules."""

    def __init__(self, rules: AccessRules, catalog_name: str) -> None:
        self.rules = rules
        self.catalog_name = catalog_name

    def visible(self, identity: Identity, view: LakeView) -> Visible:
        """The schemas, tables and columns the identity may see (what metadata queries list)."""
        tables = []
        for lake_table in view.tables.values():
            policy = self.rules.table_policy(identity, self.catalog_name, lake_table.schema, lake_table.name)
            if policy.visible:
                columns = tuple(c for c in lake_table.columns if c.name not in policy.hidden_columns)
                tables.append(VisibleTable(lake_table, columns))
        tables.sort(key=lambda v: (v.table.schema, v.table.name))
        with_tables = {v.table.schema for v in tables}
        schemas = tuple(
            s for s in view.schemas if s in with_tables or self.rules.owns_schema(identity, self.catalog_name, s)
        )
        return Visible(self.catalog_name, schemas, tuple(tables))

    def translate(
        self, expression: exp.Expression, scope: SessionScope, view: LakeView, evaluate: Evaluate
    ) -> Translated:
        """Turn a parsed Trino query into governed DuckDB SQL.

        Raises:
            QueryError: a write, an unknown catalog/schema/table, a denied table or column, or SQL that
                cannot be translated.
        """
        refuse_writes(expression)
        expression = normalize_identifiers(expression, dialect="trino")
        _replace_session_functions(expression, scope)
        rewrite_datetime_functions(expression)
        translated = Translated("")
        resolved: list[_Resolved] = []
        visible: Visible | None = None
        for table in list(expression.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                raise QueryError(f"Table function {table.this.sql('trino')} is not supported", "NOT_SUPPORTED")
            if _names_cte_in_scope(table):
                continue
            catalog, schema, name = self._qualify(table, scope)
            if schema == INFORMATION_SCHEMA or catalog == SYSTEM_CATALOG:
                visible = visible or self.visible(scope.identity, view)
                self._replace_virtual(table, catalog, schema, name, visible, translated)
                continue
            lake_table = view.table(schema, name)
            metadata = metadata_table_name(name)
            base = view.table(schema, metadata[0]) if lake_table is None and metadata else None
            if lake_table is None and base is None:
                if schema not in view.schemas:
                    raise _not_found("SCHEMA_NOT_FOUND", f"Schema '{schema}' does not exist", table)
                raise _not_found("TABLE_NOT_FOUND", f"Table '{catalog}.{schema}.{name}' does not exist", table)
            # a metadata table is governed by the rules that match its own name, as in Trino ("orders$snapshots")
            policy = self.rules.table_policy(scope.identity, catalog, schema, name)
            if not policy.can_select:
                raise permission_denied(f"Cannot select from table {catalog}.{schema}.{name}")
            if lake_table is not None:
                columns = tuple(column.name for column in lake_table.columns)
                resolved.append(_Resolved(table, schema, name, columns, policy, lake_table=lake_table))
            elif base is not None and metadata is not None:
                resolved.append(self._metadata_source(table, base, metadata[1], policy, translated))
        _check_hidden_columns(expression, resolved, scope)
        _unqualify_columns(expression, resolved)
        keep_dates(expression, {id(source.node): _column_types(source) for source in resolved})
        for source in resolved:
            source.node.replace(_governed_subquery(source, _source_table(source, evaluate), scope))
        _name_unnamed_outputs(expression)
        _type_decimal_literals(expression)
        try:
            translated.sql = expression.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError as error:
            raise QueryError(f"cannot translate to DuckDB: {error}", "NOT_SUPPORTED") from None
        return translated

    @staticmethod
    def _metadata_source(
        table: exp.Table, base: LakeTable, kind: str, policy: TablePolicy, translated: Translated
    ) -> _Resolved:
        """``"<base>$<kind>"``: its rows registered for the query, read like a table."""
        if table.args.get("version") is not None:
            raise QueryError(f"{base.name}${kind} has no versions: it describes the table now", "NOT_SUPPORTED")
        rows = metadata_rows(base.table, kind)
        registered = f"__lakeforge_{base.schema}_{base.name}_{kind}"
        translated.virtual_tables[registered] = rows
        return _Resolved(
            table, base.schema, f"{base.name}${kind}", tuple(rows.column_names), policy, registered=registered
        )

    def qualify_name(self, parts: list[str], scope: SessionScope) -> tuple[str, str, str]:
        """``[catalog.][schema.]table`` completed from the session."""
        return self._complete(parts, scope, None)

    def _qualify(self, table: exp.Table, scope: SessionScope) -> tuple[str, str, str]:
        parts = [part for part in (table.catalog, table.db, table.name) if part]
        return self._complete(parts, scope, table)

    def _complete(self, parts: list[str], scope: SessionScope, node: exp.Table | None) -> tuple[str, str, str]:
        if len(parts) == 1:
            if scope.default_schema is None:
                raise _not_found("MISSING_SCHEMA_NAME", "Schema must be specified when session schema is not set", node)
            parts = [scope.default_schema, *parts]
        if len(parts) == 2:
            if scope.default_catalog is None:
                raise _not_found(
                    "MISSING_CATALOG_NAME", "Catalog must be specified when session catalog is not set", node
                )
            parts = [scope.default_catalog, *parts]
        catalog, schema, name = parts
        if catalog not in (self.catalog_name, SYSTEM_CATALOG):
            raise _not_found("CATALOG_NOT_FOUND", f"Catalog '{catalog}' not found", node)
        if self.rules.catalog_access(scope.identity, catalog) == "none":
            raise permission_denied(f"Cannot access catalog {catalog}")
        return catalog, schema, name

    def _replace_virtual(
        self, table: exp.Table, catalog: str, schema: str, name: str, visible: Visible, translated: Translated
    ) -> None:
        if schema == INFORMATION_SCHEMA:
            builder = INFORMATION_SCHEMA_TABLES.get(name)
        else:
            builder = SYSTEM_TABLES.get((schema, name))
        if builder is None:
            raise _not_found("TABLE_NOT_FOUND", f"Table '{catalog}.{schema}.{name}' does not exist", table)
        registered = f"__lakeforge_{catalog}_{schema}_{name}"
        if registered not in translated.virtual_tables:
            translated.virtual_tables[registered] = builder(visible)
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
        table.replace(exp.Table(this=exp.to_identifier(registered), alias=alias))


def _names_cte_in_scope(table: exp.Table) -> bool:
    """Whether ``table`` names a CTE visible where it stands, as DuckDB binds them: a CTE of an enclosing ``WITH``,
    where the body of a CTE sees only those defined before it (and itself, in a ``WITH RECURSIVE``).

    Any other name is a table and goes through the governed path: passed through unresolved, DuckDB would read a
    name such as ``"/data/*.parquet"`` as files, past every access rule.
    """
    if table.db or table.catalog:
        return False
    child: exp.Expr = table
    parent = table.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = parent.expressions
            position = next((index for index, cte in enumerate(ctes) if cte is child), 0)
            visible = ctes[: position + 1] if parent.args.get("recursive") else ctes[:position]
        else:
            with_clause = parent.args.get("with_")
            visible = with_clause.expressions if isinstance(with_clause, exp.With) and with_clause is not child else []
        if any(cte.alias_or_name == table.name for cte in visible):
            return True
        child, parent = parent, parent.parent
    return False


def _name_unnamed_outputs(expression: exp.Expression) -> None:
    """Name each output that is neither a column nor aliased ``_col<position>``, as Trino does: DuckDB would name it
    by its expression text (``count_star()``, or a bound parameter's value). Left as they are after a ``*``, whose
    width is not known here."""
    select = expression
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, output in enumerate(list(select.expressions)):
        if isinstance(output, exp.Star) or (isinstance(output, exp.Column) and output.is_star):
            return
        if not isinstance(output, exp.Alias | exp.Column | exp.Dot):
            output.replace(exp.alias_(output.copy(), f"_col{position}"))


_DECIMAL_TEXT = re.compile(r"\s*[+-]?(\d*)(?:\.(\d*))?\s*")


def _type_decimal_literals(expression: exp.Expression) -> None:
    """Give ``DECIMAL '1.23456'`` the precision and scale of its digits, decimal(6, 5), as Trino does.

    sqlglot reads it as a CAST to DECIMAL, which DuckDB makes decimal(18, 3): the value was rounded to 1.235, also
    for ``Decimal`` parameters, which the trino client sends as such literals. sqlglot reads
    ``CAST('1.23456' AS DECIMAL)`` the same way, so that keeps its digits too (Trino would make it decimal(38, 0)).
    """
    for conversion in expression.find_all(exp.Cast):
        literal, to = conversion.this, conversion.to
        if not (isinstance(literal, exp.Literal) and literal.is_string and to.is_type(exp.DataType.Type.DECIMAL)):
            continue
        match = _DECIMAL_TEXT.fullmatch(literal.name)
        if to.expressions or match is None or not (match[1] or match[2]):
            continue
        whole, fraction = match[1].lstrip("0"), match[2] or ""
        precision = max(len(whole) + len(fraction), 1)
        if precision <= 38:
            conversion.set("to", exp.DataType.build(f"DECIMAL({precision}, {len(fraction)})"))


def _unqualify_columns(expression: exp.Expression, resolved: list[_Resolved]) -> None:
    """Reduce ``schema.table.column`` (as SQLAlchemy and Superset write it) to ``table.column``: an unaliased table
    becomes a subquery aliased by its bare name, which is all DuckDB then knows it by."""
    unaliased = {(source.schema, source.name) for source in resolved if not source.node.alias}
    for column in expression.find_all(exp.Column):
        if column.args.get("db") and (column.db, column.table) in unaliased:
            column.set("catalog", None)
            column.set("db", None)


def _not_found(name: str, message: str, node: exp.Expression | None) -> QueryError:
    line, column = _position(node)
    return QueryError(message, name, line, column)


def _position(node: exp.Expression | None) -> tuple[int | None, int | None]:
    """1-based line and column where a table name starts (sqlglot records where its tokens end)."""
    if node is None:
        return None, None
    first = next((node.args.get(part) for part in ("catalog", "db", "this") if node.args.get(part)), None)
    if not isinstance(first, exp.Identifier) or "line" not in first.meta:
        return None, None
    return first.meta["line"], max(first.meta["col"] - len(first.name) + 1, 1)


def _replace_session_functions(expression: exp.Expression, scope: SessionScope) -> None:
    for node in list(expression.find_all(exp.CurrentUser)):
        node.replace(exp.Literal.string(scope.identity.user))
    for catalog_node in list(expression.find_all(exp.CurrentCatalog)):
        catalog_node.replace(exp.Literal.string(scope.default_catalog or ""))
    for zone_node in list(expression.find_all(exp.CurrentTimezone)):
        zone_node.replace(exp.Literal.string(SESSION_TIME_ZONE))


def _rule_expression(rule: RuleExpression, identity: Identity, error_name: str, what: str) -> exp.Expression:
    try:
        parsed = _parse_rule(rule.sql).copy()
    except QueryError as error:
        raise QueryError(
            f"{what} {rule.sql!r} in the access rules is not valid SQL: {error.message}", error_name
        ) from None
    for node in list(parsed.find_all(exp.CurrentUser)):
        node.replace(exp.Literal.string(rule.run_as or identity.user))
    return parsed


@lru_cache(maxsize=1024)
def _parse_rule(sql: str) -> exp.Expression:
    return parse_trino(f"SELECT {sql}").expressions[0]


def _iceberg_scan(lake_table: LakeTable, snapshot: int | None) -> exp.Table:
    """``iceberg_scan('<metadata>'[, snapshot_from_id = n])`` as a table expression (what lake.duck emits)."""
    arguments: list[exp.Expression] = [exp.Literal.string(lake_table.table.metadata_location)]
    if snapshot is not None:
        arguments.append(exp.EQ(this=exp.column("snapshot_from_id"), expression=exp.Literal.number(snapshot)))
    return exp.Table(this=exp.Anonymous(this="iceberg_scan", expressions=arguments))


def _column_types(source: _Resolved) -> dict[str, str]:
    """The Trino type of each column of a lake table (none for a metadata table)."""
    return {column.name: column.type for column in source.lake_table.columns} if source.lake_table else {}


def _source_table(source: _Resolved, evaluate: Evaluate) -> exp.Table:
    """What the reference reads: its registered metadata rows, or its Iceberg table at the snapshot asked for."""
    if source.lake_table is None:
        return exp.Table(this=exp.to_identifier(source.registered))
    return _iceberg_scan(source.lake_table, _snapshot_of(source.node, source.lake_table, evaluate))


def _governed_subquery(source: _Resolved, rows: exp.Table, scope: SessionScope) -> exp.Expression:
    identity, policy = scope.identity, source.policy
    projection: list[exp.Expr] = []
    for column in source.columns:
        if column in policy.hidden_columns:
            continue
        mask = policy.masks.get(column)
        if mask is None:
            projection.append(exp.column(column, quoted=True))
        else:
            masked = _rule_expression(mask, identity, "INVALID_COLUMN_MASK", "column mask")
            projection.append(exp.alias_(exp.Paren(this=masked), column, quoted=True))
    select = exp.select(*projection).from_(rows)
    if policy.row_filter is not None:
        select = select.where(_rule_expression(policy.row_filter, identity, "INVALID_ROW_FILTER", "row filter"))
    alias = source.node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(source.name))
    return exp.Subquery(this=select, alias=alias)


def _snapshot_of(table: exp.Table, lake_table: LakeTable, evaluate: Evaluate) -> int | None:
    version = table.args.get("version")
    if version is None:
        return None
    kind = str(version.this).upper()
    if version.expression.find(exp.Query, exp.Table):
        # evaluated on the statement's bare connection, before any table of the query is governed
        raise QueryError(f"FOR {kind} AS OF takes a constant expression, not a query", "NOT_SUPPORTED")
    value = evaluate(
        f"CAST({version.expression.sql(dialect='duckdb')} AS {'BIGINT' if kind == 'VERSION' else 'TIMESTAMPTZ'})"
    )
    iceberg = lake_table.table
    if kind == "VERSION":
        if iceberg.snapshot_by_id(int(value)) is None:
            raise QueryError(f"Iceberg snapshot ID does not exists: {value}", "NOT_FOUND")
        return int(value)
    if not isinstance(value, datetime):
        raise QueryError(f"FOR TIMESTAMP AS OF needs a timestamp with time zone, got {value!r}", "TYPE_MISMATCH")
    try:
        return snapshot_id_as_of(iceberg, value)
    except CatalogError as error:
        raise QueryError(
            f"No version history table {lake_table.schema}.{lake_table.name}: {error}", "NOT_FOUND"
        ) from None


def _check_hidden_columns(expression: exp.Expression, resolved: list[_Resolved], scope: SessionScope) -> None:
    """Deny, as Trino does, any reference (``*`` included) to a column the rules hide."""
    hidden = {(source.schema, source.name): source.policy.hidden_columns for source in resolved}
    if not any(hidden.values()):
        return
    tables: dict[str, dict[str, dict[str, str]]] = {}
    for reference in resolved:
        tables.setdefault(reference.schema, {})[reference.name] = dict.fromkeys(reference.columns, "varchar")
    schema: dict[str, object] = {scope.catalog: tables}
    try:
        qualified = qualify(
            expression.copy(),
            schema=schema,
            dialect="trino",
            catalog=scope.default_catalog,
            db=scope.default_schema,
            expand_stars=True,
            validate_qualify_columns=False,
            identify=False,
        )
        scopes = traverse_scope(qualified)
    except SqlglotError:
        return
    for query_scope in scopes:
        for column in query_scope.columns:
            source = query_scope.sources.get(column.table)
            if not isinstance(source, exp.Table):
                continue
            denied = hidden.get((source.db, source.name), frozenset())
            if column.name in denied:
                raise permission_denied(
                    f"Cannot select from columns [{column.name}] in table or view "
                    f"{scope.catalog}.{source.db}.{source.name}"
                )
