"""Recognise Trino's utility statements (SHOW, DESCRIBE, USE, EXPLAIN, PREPARE, EXECUTE, SET SESSION, ...).

sqlglot parses queries but only falls back to an opaque command for most of Trino's utility statements, so
their few fixed shapes are matched here; everything else is handed to sqlglot as a query. SHOW statements
become queries over ``information_schema``, as Trino itself rewrites them, so they pass through the same
access rules as any other query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r'(?:"[^"]+"|[\w$]+)'
_QUALIFIED = rf"{_NAME}(?:\s*\.\s*{_NAME}){{0,2}}"
_LIKE = r"(?:\s+LIKE\s+(?P<like>'(?:[^']|'')*')(?:\s+ESCAPE\s+(?P<escape>'(?:[^']|'')*'))?)?"
_FLAGS = re.IGNORECASE | re.DOTALL


@dataclass(frozen=True)
class Query:
    """A statement sqlglot parses: a query (or a write, which is refused later)."""

    sql: str


@dataclass(frozen=True)
class ShowCatalogs:
    like: str | None
    escape: str | None = None


@dataclass(frozen=True)
class ShowSchemas:
    catalog: str | None
    like: str | None
    escape: str | None = None


@dataclass(frozen=True)
class ShowTables:
    schema: list[str] | None
    like: str | None
    escape: str | None = None


@dataclass(frozen=True)
class ShowColumns:
    table: list[str]


@dataclass(frozen=True)
class ShowCreateTable:
    table: list[str]


@dataclass(frozen=True)
class ShowSession:
    like: str | None
    escape: str | None = None


@dataclass(frozen=True)
class Use:
    target: list[str]


@dataclass(frozen=True)
class Explain:
    statement: str
    analyze: bool


@dataclass(frozen=True)
class Prepare:
    name: str
    statement: str


@dataclass(frozen=True)
class Execute:
    name: str
    parameters: str | None


@dataclass(frozen=True)
class ExecuteImmediate:
    statement: str
    parameters: str | None


@dataclass(frozen=True)
class Deallocate:
    name: str


@dataclass(frozen=True)
class SetSession:
    name: str
    value: str


@dataclass(frozen=True)
class ResetSession:
    name: str


@dataclass(frozen=True)
class StartTransaction:
    pass


@dataclass(frozen=True)
class EndTransaction:
    commit: bool


Statement = (
    Query
    | ShowCatalogs
    | ShowSchemas
    | ShowTables
    | ShowColumns
    | ShowCreateTable
    | ShowSession
    | Use
    | Explain
    | Prepare
    | Execute
    | ExecuteImmediate
    | Deallocate
    | SetSession
    | ResetSession
    | StartTransaction
    | EndTransaction
)


def split_name(text: str) -> list[str]:
    """``a."B".c`` -> ``['a', 'B', 'c']``: unquoted parts lower-cased, as Trino resolves identifiers."""
    parts = re.findall(_NAME, text)
    return [part[1:-1] if part.startswith('"') else part.lower() for part in parts]


def strip_sql(sql: str) -> str:
    """The statement without leading comments, surrounding blanks and a trailing semicolon."""
    text = sql.strip()
    while True:
        if text.startswith("--"):
            text = text.partition("\n")[2].lstrip()
        elif text.startswith("/*") and "*/" in text:
            text = text.partition("*/")[2].lstrip()
        else:
            break
    return text.rstrip().rstrip(";").rstrip()


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


_PATTERNS: list[tuple[re.Pattern[str], type]] = [
    (re.compile(rf"SHOW\s+CATALOGS{_LIKE}", _FLAGS), ShowCatalogs),
    (re.compile(rf"SHOW\s+SCHEMAS(?:\s+(?:FROM|IN)\s+(?P<catalog>{_NAME}))?{_LIKE}", _FLAGS), ShowSchemas),
    (re.compile(rf"SHOW\s+TABLES(?:\s+(?:FROM|IN)\s+(?P<schema>{_QUALIFIED}))?{_LIKE}", _FLAGS), ShowTables),
    (re.compile(rf"(?:SHOW\s+COLUMNS\s+(?:FROM|IN)|DESCRIBE|DESC)\s+(?P<table>{_QUALIFIED})", _FLAGS), ShowColumns),
    (re.compile(rf"SHOW\s+CREATE\s+TABLE\s+(?P<table>{_QUALIFIED})", _FLAGS), ShowCreateTable),
    (re.compile(rf"SHOW\s+SESSION{_LIKE}", _FLAGS), ShowSession),
    (re.compile(rf"USE\s+(?P<target>{_QUALIFIED})", _FLAGS), Use),
    (re.compile(r"EXPLAIN\s+(?P<analyze>ANALYZE\s+)?(?:\([^)]*\)\s*)?(?P<statement>.+)", _FLAGS), Explain),
    (re.compile(rf"PREPARE\s+(?P<name>{_NAME})\s+FROM\s+(?P<statement>.+)", _FLAGS), Prepare),
    (
        re.compile(r"EXECUTE\s+IMMEDIATE\s+(?P<statement>'(?:[^']|'')*')(?:\s+USING\s+(?P<parameters>.+))?", _FLAGS),
        ExecuteImmediate,
    ),
    (re.compile(rf"EXECUTE\s+(?P<name>{_NAME})(?:\s+USING\s+(?P<parameters>.+))?", _FLAGS), Execute),
    (re.compile(rf"DEALLOCATE\s+PREPARE\s+(?P<name>{_NAME})", _FLAGS), Deallocate),
    (re.compile(rf"SET\s+SESSION\s+(?P<name>{_QUALIFIED})\s*=\s*(?P<value>.+)", _FLAGS), SetSession),
    (re.compile(rf"RESET\s+SESSION\s+(?P<name>{_QUALIFIED})", _FLAGS), ResetSession),
    (re.compile(r"START\s+TRANSACTION(?:\s+.*)?", _FLAGS), StartTransaction),
    (re.compile(r"(?P<verb>COMMIT|ROLLBACK)(?:\s+WORK)?", _FLAGS), EndTransaction),
]


def classify(sql: str) -> Statement:
    """Recognise the statement kind; anything that is not a utility statement is a :class:`Query`."""
    text = strip_sql(sql)
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        like = _unquote(groups["like"]) if groups.get("like") else None
        escape = _unquote(groups["escape"]) if groups.get("escape") else None
        if kind is ShowCatalogs:
            return ShowCatalogs(like, escape)
        if kind is ShowSchemas:
            return ShowSchemas(split_name(groups["catalog"])[0] if groups["catalog"] else None, like, escape)
        if kind is ShowTables:
            return ShowTables(split_name(groups["schema"]) if groups["schema"] else None, like, escape)
        if kind is ShowColumns:
            return ShowColumns(split_name(groups["table"]))
        if kind is ShowCreateTable:
            return ShowCreateTable(split_name(groups["table"]))
        if kind is ShowSession:
            return ShowSession(like, escape)
        if kind is Use:
            return Use(split_name(groups["target"]))
        if kind is Explain:
            return Explain(groups["statement"], bool(groups["analyze"]))
        if kind is Prepare:
            return Prepare(split_name(groups["name"])[0], groups["statement"])
        if kind is ExecuteImmediate:
            return ExecuteImmediate(_unquote(groups["statement"]), groups["parameters"])
        if kind is Execute:
            return Execute(split_name(groups["name"])[0], groups["parameters"])
        if kind is Deallocate:
            return Deallocate(split_name(groups["name"])[0])
        if kind is SetSession:
            return SetSession(".".join(split_name(groups["name"])), groups["value"].strip())
        if kind is ResetSession:
            return ResetSession(".".join(split_name(groups["name"])))
        if kind is StartTransaction:
            return StartTransaction()
        return EndTransaction(commit=groups["verb"].upper() == "COMMIT")
    return Query(text)


def sql_literal(value: str) -> str:
    """A Trino string literal."""
    return "'" + value.replace("'", "''") + "'"


def show_as_query(statement: ShowCatalogs | ShowSchemas | ShowTables, catalog: str, schema: str | None) -> str:
    """The ``information_schema`` query Trino runs for a SHOW statement (``catalog``/``schema`` resolved)."""
    if isinstance(statement, ShowCatalogs):
        return (
            'SELECT catalog_name AS "Catalog" FROM system.metadata.catalogs WHERE true'
            + _like_condition("catalog_name", statement)
            + " ORDER BY 1"
        )
    if isinstance(statement, ShowSchemas):
        return (
            f'SELECT schema_name AS "Schema" FROM "{catalog}".information_schema.schemata WHERE true'
            + _like_condition("schema_name", statement)
            + " ORDER BY 1"
        )
    return (
        f'SELECT table_name AS "Table" FROM "{catalog}".information_schema.tables '
        f"WHERE table_schema = {sql_literal(schema or '')}" + _like_condition("table_name", statement) + " ORDER BY 1"
    )


def _like_condition(column: str, statement: ShowCatalogs | ShowSchemas | ShowTables) -> str:
    if statement.like is None:
        return ""
    escape = f" ESCAPE {sql_literal(statement.escape)}" if statement.escape is not None else ""
    return f" AND {column} LIKE {sql_literal(statement.like)}{escape}"


def columns_query(catalog: str, schema: str, table: str) -> str:
    """The ``information_schema.columns`` query behind ``SHOW COLUMNS`` / ``DESCRIBE``."""
    return (
        'SELECT column_name AS "Column", data_type AS "Type", \'\' AS "Extra", coalesce(comment, \'\') AS "Comment" '
        f'FROM "{catalog}".information_schema.columns '
        f"WHERE table_schema = {sql_literal(schema)} AND table_name = {sql_literal(table)} ORDER BY ordinal_position"
    )
