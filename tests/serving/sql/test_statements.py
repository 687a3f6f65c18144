"""Utility statements are recognised in the shapes Trino's clients send."""

from __future__ import annotations

import pytest

from serving.sql import statements as st


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SHOW CATALOGS LIKE 'l%'", st.ShowCatalogs("l%")),
        ("show schemas from lake", st.ShowSchemas("lake", None)),
        ("SHOW TABLES IN lake.\"Raw\" LIKE 'c%'", st.ShowTables(["lake", "Raw"], "c%")),
        ("DESCRIBE raw.cards;", st.ShowColumns(["raw", "cards"])),
        ("SHOW COLUMNS FROM cards", st.ShowColumns(["cards"])),
        ("SHOW CREATE TABLE lake.raw.cards", st.ShowCreateTable(["lake", "raw", "cards"])),
        ("USE Lake.Raw", st.Use(["lake", "raw"])),
        ("EXPLAIN ANALYZE SELECT 1", st.Explain("SELECT 1", True)),
        ("EXPLAIN (TYPE LOGICAL) SELECT 1", st.Explain("SELECT 1", False)),
        ("PREPARE st_1 FROM SELECT ?", st.Prepare("st_1", "SELECT ?")),
        ("EXECUTE st_1 USING 1, 'a,b'", st.Execute("st_1", "1, 'a,b'")),
        ("EXECUTE IMMEDIATE 'SELECT ''x'', ?' USING 2", st.ExecuteImmediate("SELECT 'x', ?", "2")),
        ("DEALLOCATE PREPARE st_1", st.Deallocate("st_1")),
        ("SET SESSION query_max_run_time = '5s'", st.SetSession("query_max_run_time", "'5s'")),
        ("RESET SESSION query_max_run_time", st.ResetSession("query_max_run_time")),
        ("START TRANSACTION READ ONLY", st.StartTransaction()),
        ("ROLLBACK", st.EndTransaction(commit=False)),
        ("-- a comment\nSELECT 1;", st.Query("SELECT 1")),
    ],
)
def test_statements_are_classified(sql: str, expected: st.Statement) -> None:
    assert st.classify(sql) == expected


def test_show_tables_becomes_an_information_schema_query() -> None:
    sql = st.show_as_query(st.ShowTables(None, "c'%"), "lake", "raw")
    assert sql == (
        'SELECT table_name AS "Table" FROM "lake".information_schema.tables '
        "WHERE table_schema = 'raw' AND table_name LIKE 'c''%' ORDER BY 1"
    )
