"""Dates stay dates through date arithmetic, as in Trino.

Trino's ``date_add('day', 1, d)``, ``date_trunc('month', d)`` and ``d + INTERVAL '1' DAY`` return a DATE when ``d``
is one; DuckDB, which sqlglot writes them for, returns a TIMESTAMP. Where the operand is known to be a date and the
unit is a day or longer, the result is cast back to DATE. Known dates: a DATE literal or cast, ``current_date``,
and a column that names a date where its source is known: a table's date column, or a CTE's or subquery's output
that is itself a known date (a date column passed through, under its name or an alias or a ``*``, a DATE cast, or
date arithmetic on a date), as BI tools wrap a dataset's SQL in a subquery. A column's source is known when its
qualifier names it, when it is the only source of its SELECT, or when it is the only source with such a column and
every source's columns are known. Anything else (a UNION's column, ``coalesce(d, ...)``) is left alone, so no
timestamp is ever cut to a date.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

DATE_UNITS = frozenset({"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"})
"""Units whose arithmetic on a date gives a date in Trino."""

ColumnTypes = dict[int, dict[str, str]]
"""``id()`` of a table node of the query -> its columns' Trino types."""
ColumnsOf = Callable[[object], dict[str, bool] | None]
"""A source of a scope -> its columns and whether each is a known date (``None``: not known)."""
_ARITHMETIC = (exp.DateAdd, exp.DateSub, exp.TimestampTrunc, exp.DateTrunc, exp.Add, exp.Sub)


def keep_dates(expression: exp.Expression, tables: ColumnTypes) -> None:
    """Cast date arithmetic on known dates back to DATE, in place (innermost first, so nested arithmetic is seen
    as a date too)."""
    candidates = list(expression.find_all(*_ARITHMETIC, bfs=False))
    if not candidates:
        return
    date_columns = _date_columns(expression, tables)
    for node in reversed(candidates):
        if _is_date_arithmetic(node, date_columns):
            node.replace(exp.cast(node.copy(), exp.DataType.Type.DATE))


def _date_columns(expression: exp.Expression, tables: ColumnTypes) -> set[int]:
    """``id()`` of the column references that name a known date (see the module docstring)."""
    found: set[int] = set()
    try:
        scopes = traverse_scope(expression)
    except SqlglotError:
        return found
    # id() of a known table node, or of a scope once its outputs are worked out -> its columns: is each a date?
    known: dict[int, dict[str, bool] | None] = {
        node: {name: kind == "date" for name, kind in columns.items()} for node, columns in tables.items()
    }

    def columns_of(source: object) -> dict[str, bool] | None:
        return known.get(id(source))

    for scope in scopes:  # inner scopes come first, so a CTE's or subquery's outputs are known before its readers
        for column in scope.columns:
            source = scope.sources.get(column.table) if column.table else _only_source_with(column, scope, columns_of)
            if (columns_of(source) or {}).get(column.name):
                found.add(id(column))
        known[id(scope)] = _outputs(scope, found, columns_of)
    return found


def _only_source_with(column: exp.Column, scope: Scope, columns_of: ColumnsOf) -> object:
    """The source an unqualified column belongs to: the only one of its SELECT, or the only one with such a column
    when every source's columns are known."""
    sources = list(scope.sources.values())
    if len(sources) == 1:
        return sources[0]
    known = [columns_of(source) for source in sources]
    holders = [source for source, columns in zip(sources, known, strict=True) if columns and column.name in columns]
    return holders[0] if len(holders) == 1 and all(columns is not None for columns in known) else None


def _outputs(scope: Scope, date_columns: set[int], columns_of: ColumnsOf) -> dict[str, bool] | None:
    """A SELECT scope's output columns and whether each is a known date; ``None`` when they are not all known (a
    UNION, a ``*`` over a source whose columns are not known)."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return None
    outputs: dict[str, bool] = {}

    def add(name: str, is_date: bool) -> None:  # a name given twice is a date only if both are
        outputs[name] = is_date and outputs.get(name, True)

    for projection in select.expressions:
        star = projection.this if isinstance(projection, exp.Column) and projection.is_star else projection
        if isinstance(star, exp.Star):
            if any(star.args.values()):  # EXCLUDE, REPLACE, RENAME
                return None
            qualifier = projection.table if isinstance(projection, exp.Column) else ""
            for source in [scope.sources.get(qualifier)] if qualifier else list(scope.sources.values()):
                columns = columns_of(source)
                if columns is None:
                    return None
                for name, is_date in columns.items():
                    add(name, is_date)
            continue
        value = projection.unalias()
        add(projection.alias_or_name, _is_date(value, date_columns) or _is_date_arithmetic(value, date_columns))
    return outputs


def _is_date_arithmetic(node: exp.Expr, date_columns: set[int]) -> bool:
    if not isinstance(node, _ARITHMETIC):
        return False
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
