"""What a query reads, and its fingerprint: the same text over the same snapshots, or none when its result may vary."""

from __future__ import annotations

import duckdb
import pytest

from lake.query_inputs import query_fingerprint, query_inputs, unstable_functions

SNAPSHOTS = {"staging.cards": 11, "staging.customers": 22}
JOINED = (
    'with held as (select * from "memory"."staging"."cards") '
    "select * from held join staging.customers using (customer_id)"
)


def fingerprint(con: duckdb.DuckDBPyConnection, sql: str, snapshots: dict[str, int], salt: str = "") -> str | None:
    return query_fingerprint(sql, query_inputs(con, sql, snapshots, unstable_functions(con)), salt)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_same_query_over_same_snapshots_has_the_same_fingerprint(con: duckdb.DuckDBPyConnection) -> None:
    first = fingerprint(con, JOINED, SNAPSHOTS)
    assert first is not None
    assert fingerprint(con, JOINED, dict(SNAPSHOTS)) == first
    assert fingerprint(con, JOINED, {**SNAPSHOTS, "staging.unread": 99}) == first


def test_a_new_input_snapshot_text_or_salt_changes_the_fingerprint(con: duckdb.DuckDBPyConnection) -> None:
    first = fingerprint(con, JOINED, SNAPSHOTS)
    assert fingerprint(con, JOINED, {**SNAPSHOTS, "staging.customers": 23}) != first
    assert fingerprint(con, JOINED + " where true", SNAPSHOTS) != first
    assert fingerprint(con, JOINED, SNAPSHOTS, salt="another key") != first


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
    assert fingerprint(con, sql, SNAPSHOTS) is None


def test_the_snapshots_read_are_known_even_when_the_result_may_vary(con: duckdb.DuckDBPyConnection) -> None:
    unstable = unstable_functions(con)
    assert query_inputs(con, JOINED, {**SNAPSHOTS, "staging.unread": 99}, unstable).snapshots == SNAPSHOTS
    varying = query_inputs(
        con, "select *, now() as seen_at from staging.cards join staging.unknown using (id)", SNAPSHOTS, unstable
    )
    assert varying.snapshots == {"staging.cards": 11}
    assert not varying.fixed
