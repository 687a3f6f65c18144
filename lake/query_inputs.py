"""What a model's query reads, so that a model whose inputs did not change need not be written again.

A query's result is fixed by its text and the data it reads when it reads only lake tables (through views that
each scan one Iceberg snapshot) and calls only functions whose result depends on their arguments. For such a
query :func:`query_fingerprint` is a digest of the text and of the snapshot of every table it reads: the same
digest means the same result. A query that reads anything else (a file through a table function, a table the
lake does not know) or calls a function of the clock or of chance (``now()``, ``current_date``, ``random()``)
has no fingerprint and must run every time. Either way :func:`query_inputs` says which snapshot of each lake
table the query read: a model's write records them, so its next incremental build can ask each input what
changed since (:mod:`lake.changes`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

CLOCK_KEYWORDS = frozenset({"current_date", "current_time", "current_timestamp", "localtime", "localtimestamp"})
"""SQL value functions written without parentheses: DuckDB's parser sees them as column names."""


@dataclass(frozen=True)
class QueryInputs:
    """The lake tables a query reads, and whether they alone fix its result."""

    snapshots: dict[str, int]
    """``namespace.table`` to the snapshot read, for every lake table the query reads."""
    fixed: bool
    """Whether the text and ``snapshots`` fix the result: it reads nothing else and calls no unstable function."""


def query_inputs(
    con: duckdb.DuckDBPyConnection, sql: str, snapshots: Mapping[str, int], unstable: frozenset[str]
) -> QueryInputs:
    """The lake tables ``sql`` reads and the snapshots it reads them at.

    Args:
        con: a connection, to parse ``sql`` with.
        sql: one SELECT statement.
        snapshots: ``namespace.table`` to the snapshot its view reads, for every table the query may read.
        unstable: the connection's :func:`unstable_functions` (read once per connection, not per query).

    Returns:
        The snapshots read; ``fixed`` is false when the query is not a SELECT DuckDB can parse, reads something
        not in ``snapshots`` or calls a function whose result is not fixed by its arguments.
    """
    try:
        row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    except duckdb.Error:
        return QueryInputs({}, fixed=False)
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        return QueryInputs({}, fixed=False)
    parts = _QueryParts()
    parts.visit(tree, unstable)
    database = con.execute("SELECT current_database()").fetchone()
    reads, fixed = {}, not parts.varies
    for catalog, schema, table in parts.tables:
        if not catalog and not schema and table in parts.ctes:
            continue
        name = f"{schema}.{table}"
        if catalog not in ("", database[0] if database else "") or name not in snapshots:
            fixed = False
        else:
            reads[name] = snapshots[name]
    return QueryInputs(dict(sorted(reads.items())), fixed)


def query_fingerprint(sql: str, inputs: QueryInputs, salt: str = "") -> str | None:
    """A digest of ``sql`` and of the snapshot of every table it reads, or ``None`` if its result may vary.

    Args:
        sql: the query ``inputs`` were read from.
        inputs: what :func:`query_inputs` found it reads.
        salt: anything else the result depends on (e.g. the key of a keyed hash the query computes).

    Returns:
        A hex SHA-256, or ``None`` unless ``inputs`` fix the result.
    """
    if not inputs.fixed:
        return None
    return hashlib.sha256(json.dumps([sql, sorted(inputs.snapshots.items()), salt]).encode()).hexdigest()


def unstable_functions(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Names of the functions whose result is not fixed by their arguments, from the connection's catalogue."""
    rows = con.execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE stability <> 'CONSISTENT'")
    return frozenset(name for (name,) in rows.fetchall()) | CLOCK_KEYWORDS


class _QueryParts:
    """What a parsed query (DuckDB's JSON syntax tree) reads and calls."""

    def __init__(self) -> None:
        self.tables: set[tuple[str, str, str]] = set()
        self.ctes: set[str] = set()
        self.varies = False

    def visit(self, node: Any, unstable: frozenset[str]) -> None:
        """Collect table references and CTE names; note a table function or an unstable function."""
        if isinstance(node, list):
            for child in node:
                self.visit(child, unstable)
            return
        if not isinstance(node, dict):
            return
        if node.get("type") == "BASE_TABLE":
            self.tables.add((node.get("catalog_name", ""), node.get("schema_name", ""), node.get("table_name", "")))
        self.varies = self.varies or _calls_beyond_its_arguments(node, unstable)
        if isinstance(node.get("cte_map"), dict):
            self.ctes.update(entry["key"] for entry in node["cte_map"].get("map", []))
        for child in node.values():
            self.visit(child, unstable)


def _calls_beyond_its_arguments(node: dict[str, Any], unstable: frozenset[str]) -> bool:
    """Whether the node is a table function, or a call of a function of the clock or of chance."""
    if node.get("type") == "TABLE_FUNCTION":
        return True
    if node.get("class") == "FUNCTION":
        return node.get("function_name") in unstable
    return node.get("type") == "COLUMN_REF" and node.get("column_names", [None])[-1] in CLOCK_KEYWORDS
