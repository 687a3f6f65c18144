"""Access rules enforced on every path: masks, row filters, hidden columns, tables, catalogs, metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
import trino

from tests.serving.sql.conftest import Connect, fetch


def _denied(connect: Connect, user: str, sql: str) -> str:
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect(user), sql)
    assert failure.value.error_name == "PERMISSION_DENIED"
    return failure.value.message


def test_masks_and_row_filter_apply_to_a_group(connect: Connect) -> None:
    rows = fetch(connect("alice"), "SELECT customer_id, email FROM curated.customers ORDER BY 1")
    assert rows == [["c1", "***@example.com"], ["c2", "***@example.com"], ["c4", "***@example.com"]]


def test_the_unmasked_values_stay_visible_to_admin(connect: Connect) -> None:
    rows = fetch(connect("admin"), "SELECT email FROM curated.customers WHERE customer_id = 'c1'")
    assert rows == [["ada@example.com"]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT max(email) FROM curated.customers",
        "SELECT max((SELECT max(email) FROM curated.customers WHERE customer_id = c.customer_id)) "
        "FROM curated.customers c",
        "WITH v AS (SELECT email FROM curated.customers) SELECT max(email) FROM v",
        "SELECT max(a.email) FROM curated.customers a JOIN curated.customers b ON a.customer_id = b.customer_id",
        "SELECT max(email) FROM (SELECT customer_id, email FROM curated.customers WHERE true) t",
    ],
)
def test_masks_hold_through_subqueries_ctes_and_joins(connect: Connect, sql: str) -> None:
    assert fetch(connect("alice"), sql) == [["***@example.com"]]


def test_row_filter_holds_in_aggregates_and_filters_on_masked_columns(connect: Connect) -> None:
    analyst = connect("alice")
    assert fetch(analyst, "SELECT count(*) FROM curated.customers") == [[3]]
    assert fetch(analyst, "SELECT count(*) FROM curated.customers WHERE home_country = 'US'") == [[0]]
    assert fetch(analyst, "SELECT count(*) FROM curated.customers WHERE email LIKE 'ada%'") == [[0]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM curated.customers",
        "SELECT full_name FROM curated.customers",
        "SELECT c.full_name FROM curated.customers c",
        "WITH v AS (SELECT * FROM curated.customers) SELECT customer_id FROM v",
        "SELECT customer_id FROM curated.customers WHERE full_name LIKE 'A%'",
    ],
)
def test_hidden_columns_are_denied_even_through_star(connect: Connect, sql: str) -> None:
    message = _denied(connect, "alice", sql)
    assert "Cannot select from columns [full_name]" in message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM {name} WHERE EXISTS (WITH {name} AS (SELECT 1 AS x) SELECT x FROM {name})",
        "WITH a AS (SELECT * FROM {name}), {name} AS (SELECT 1 AS x) SELECT * FROM a",
    ],
)
def test_a_cte_name_used_out_of_its_scope_is_a_table_not_a_file(connect: Connect, tmp_path: Path, sql: str) -> None:
    """Unresolved, such a name reached DuckDB, which read it as a file path, past every access rule."""
    secret = tmp_path / "secret.csv"
    secret.write_text("api_key\nhunter2\n")
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect("alice", schema="curated"), sql.format(name=f'"{secret}"'))
    assert failure.value.error_name == "TABLE_NOT_FOUND"
    assert "hunter2" not in failure.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "WITH a AS (SELECT customer_id FROM curated.customers), b AS (SELECT * FROM a) SELECT count(*) FROM b",
        "WITH a AS (SELECT customer_id FROM customers) "
        "SELECT count(*) FROM (WITH b AS (SELECT * FROM a) SELECT * FROM b)",
        "SELECT count(*) FROM customers WHERE EXISTS (WITH customers AS (SELECT 1 AS x) SELECT x FROM customers)",
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT count(*) FROM n",
    ],
)
def test_ctes_resolve_where_they_are_in_scope(connect: Connect, sql: str) -> None:
    assert fetch(connect("alice", schema="curated"), sql) == [[3]]


def test_tables_without_a_rule_are_denied(connect: Connect) -> None:
    assert "Cannot select from table lake.raw.cards" in _denied(connect, "alice", "SELECT card_id FROM raw.cards")
    message = _denied(
        connect, "alice", "SELECT c.customer_id FROM curated.customers c JOIN raw.cards k USING (customer_id)"
    )
    assert "raw.cards" in message


def test_a_denied_catalog_hides_everything(connect: Connect) -> None:
    assert "Cannot access catalog lake" in _denied(connect, "nobody", "SELECT * FROM raw.cards")


def test_user_rule_with_filter_environment_and_mask(connect: Connect) -> None:
    rows = fetch(connect("carol"), "SELECT card_id, card_number FROM raw.cards")
    assert rows == [["k2", "****0004"]]
    joined = fetch(
        connect("carol"), "SELECT k.card_number, c.full_name FROM raw.cards k JOIN raw.customers c USING (customer_id)"
    )
    assert joined == [["****0004", "Alan Turing"]]


def test_metadata_lists_only_what_the_user_may_see(connect: Connect) -> None:
    analyst = connect("alice")
    assert fetch(analyst, "SHOW SCHEMAS FROM lake") == [["curated"], ["information_schema"]]
    assert fetch(analyst, "SHOW TABLES FROM curated") == [["all_types"], ["customers"]]
    columns = [row[0] for row in fetch(analyst, "DESCRIBE curated.customers")]
    assert "full_name" not in columns and "email" in columns
    create = fetch(analyst, "SHOW CREATE TABLE curated.customers")[0][0]
    assert "full_name" not in create and "   email varchar" in create
    listed = fetch(analyst, "SELECT DISTINCT table_schema FROM information_schema.columns")
    assert listed == [["curated"]]
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(analyst, "DESCRIBE raw.cards")
    assert failure.value.error_name == "TABLE_NOT_FOUND"


def test_ml_group_reads_curated_unmasked_but_not_raw(connect: Connect) -> None:
    ml = connect("bob")
    assert fetch(ml, "SELECT count(*) FROM curated.customers") == [[4]]
    assert "raw.customers" in _denied(connect, "bob", "SELECT * FROM raw.customers")


def test_a_metadata_table_is_governed_by_the_rules_that_match_its_own_name(connect: Connect) -> None:
    """As in Trino: the ml group's rule covers every curated table, so "customers$snapshots" too; the analysts'
    rule names the table "customers" exactly, which "customers$snapshots" is not."""
    assert len(fetch(connect("bob"), 'SELECT snapshot_id FROM curated."customers$snapshots"')) == 2
    message = _denied(connect, "alice", 'SELECT snapshot_id FROM curated."customers$snapshots"')
    assert message.endswith("Cannot select from table lake.curated.customers$snapshots")
