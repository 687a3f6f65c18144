"""The built-in Trino-protocol SQL endpoint: BI tools query the lake over DuckDB, governed by Trino's rules.

Modules, one job each: :mod:`~serving.sql.server` (HTTP protocol), :mod:`~serving.sql.execution` (query
lifecycle), :mod:`~serving.sql.statements` (statement kinds), :mod:`~serving.sql.translation` (Trino SQL to
DuckDB), :mod:`~serving.sql.metadata` (catalog, schemas, tables, ``information_schema``),
:mod:`~serving.sql.types` (Trino types and value encoding), :mod:`~serving.sql.auth` and
:mod:`~serving.sql.rules` (governance), :mod:`~serving.sql.audit` and :mod:`~serving.sql.limits`.
"""
