"""A query's fingerprint: the same text over the same snapshots, or no fingerprint when its result may vary."""

from __future__ import annotations

import duckdb
import pytest

from lake.query_inputs import query_fingerprint

SNAPSHOTS = {"staging.cards": 11, "staging.customers": 22}
JOINED = (
    'with held as (select * from "memory"."staging"."cards") '
    "select * from held join staging.customers using (customer_id)"
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_same_query_over_same_snapshots_has_the_same_fingerprint(con: duckdb.DuckDBPyConnection) -> None:
    first = query_fingerprint(con, JOINED, SNAPSHOTS)
    assert first is not None
    assert query_fingerprint(con, JOINED, dict(SNAPSHOTS)) == first
    assert query_fingerprint(con, JOINED, {**SNAPSHOTS, "staging.unread": 99}) == first


def test_a_new_input_snapshot_text_or_salt_changes_the_fingerprint(con: duckdb.DuckDBPyConnection) -> None:
    first = query_fingerprint(con, JOINED, SNAPSHOTS)
    assert query_fingerprint(con, JOINED, {**SNAPSHOTS, "staging.customers": 23}) != first
    assert query_fingerprint(con, JOINED + " where true", SNAPSHOTS) != first
    assert query_fingerprint(con, JOINED, SNAPSHOTS, salt="another key") != first


@pytest.mark.parametrize(
    "sql",
    [
        "select * from staging.cards join staging.unknown using (card_id)",
        "select * from cards",
        "select * from other.staging.cards",
        "select * from staging.cards join read_parquet('/tmp/x.parquet') using (card_id)",
        "select *, now() as seen_at from staging.cards",
        "select * from staging.cards where issued_at < current_date",
        "select *, random() as draw from staging.cards",
        "create table copy as select * from staging.cards",
        "select * from staging.cards where",
    ],
    ids=[
        "unknown table",
        "unqualified table",
        "other database",
        "table function",
        "now",
        "current_date",
        "random",
        "not a select",
        "syntax error",
    ],
)
def test_a_query_whose_result_may_vary_has_no_fingerprint(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert query_fingerprint(con, sql, SNAPSHOTS) is None
