"""Dates stay dates through date arithmetic, as in Trino.

Trino's ``date_add('day', 1, d)``, ``date_trunc('month', d)`` and ``d + INTERVAL '1' DAY`` return a DATE when ``d``
is one; DuckDB, which sqlglot writes them for, returns a TIMESTAMP. Where the operand is known to be a date (a DATE
literal or cast, ``current_date``, a table column of type date) and the unit is a day or longer, the result is cast
back to DATE. A column is known only where its table is: named by its qualifier, the only source of its SELECT, or
the only one of its SELECT's tables with such a column; a CTE's or subquery's column is left alone.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

DATE_UNITS = frozenset({"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"})
"""Units whose arithmetic on a date gives a date in Trino."""

ColumnTypes = dict[int, dict[str, str]]
"""``id()`` of a table node of the query -> its columns' Trino types."""


def keep_dates(expression: exp.Expression, tables: ColumnTypes) -> None:
    """Cast date arithmetic on known dates back to DATE, in place (innermost first, so nested arithmetic is seen
    as a date too)."""
    arithmetic = (exp.DateAdd, exp.DateSub, exp.TimestampTrunc, exp.DateTrunc, exp.Add, exp.Sub)
    candidates = list(expression.find_all(*arithmetic, bfs=False))
    if not candidates:
        return
    date_columns = _date_columns(expression, tables)
    for node in reversed(candidates):
        if _is_date_arithmetic(node, date_columns):
            node.replace(exp.cast(node.copy(), exp.DataType.Type.DATE))


def _date_columns(expression: exp.Expression, tables: ColumnTypes) -> set[int]:
    """``id()`` of the column references that name a date column of a known table."""
    found: set[int] = set()
    try:
        scopes = traverse_scope(expression)
    except SqlglotError:
        return found
    for scope in scopes:
        for column in scope.columns:
            source = scope.sources.get(column.table) if column.table else _only_source_with(column, scope, tables)
            if isinstance(source, exp.Table) and tables.get(id(source), {}).get(column.name) == "date":
                found.add(id(column))
    return found


def _only_source_with(column: exp.Column, scope: Scope, tables: ColumnTypes) -> object:
    """The source an unqualified column belongs to: the only one of its SELECT, or the only known table with such a
    column when every source is a known table (a CTE's or a subquery's columns are not known here)."""
    sources = list(scope.sources.values())
    if len(sources) == 1:
        return sources[0]
    if not all(isinstance(source, exp.Table) and id(source) in tables for source in sources):
        return None
    holders = [source for source in sources if column.name in tables[id(source)]]
    return holders[0] if len(holders) == 1 else None


def _is_date_arithmetic(node: exp.Expr, date_columns: set[int]) -> bool:
    if isinstance(node, exp.Add | exp.Sub):
        step = node.expression
        return isinstance(step, exp.Interval) and _unit(step) in DATE_UNITS and _is_date(node.this, date_columns)
    return _unit(node) in DATE_UNITS and _is_date(node.this, date_columns)


def _is_date(node: exp.Expr, date_columns: set[int]) -> bool:
    if isinstance(node, exp.Cast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, exp.Paren):
        return _is_date(node.this, date_columns)
    return isinstance(node, exp.CurrentDate) or id(node) in date_columns


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if isinstance(unit, exp.Expr) else ""
