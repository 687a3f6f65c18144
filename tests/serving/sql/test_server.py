"""The endpoint over real HTTP: protocol, metadata, errors, read-only refusal, and the three clients."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import pytest
import requests
import sqlalchemy as sa
import trino
from pyiceberg.catalog import Catalog

from lake.catalog import load_catalog
from lake.settings import Settings
from serving.sql.execution import PAGE_ROWS
from serving.sql.server import BackgroundServer
from tests.serving.sql.conftest import Connect, fetch


@pytest.fixture(scope="module")
def lake_catalog(lake_settings: Settings) -> Catalog:
    return load_catalog(lake_settings)


def _post(endpoint: BackgroundServer, sql: str, **headers: str) -> dict[str, Any]:
    response = requests.post(
        f"http://127.0.0.1:{endpoint.port}/v1/statement",
        data=sql.encode(),
        headers={"X-Trino-User": "admin", "X-Trino-Catalog": "lake", **headers},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def test_info_reports_a_running_coordinator(endpoint: BackgroundServer) -> None:
    info = requests.get(f"http://127.0.0.1:{endpoint.port}/v1/info", timeout=10).json()
    assert info["coordinator"] is True
    assert info["starting"] is False


def test_a_large_result_pages_through_next_uri(endpoint: BackgroundServer, connect: Connect) -> None:
    total = PAGE_ROWS * 3 + 5
    document = _post(endpoint, f"SELECT x FROM UNNEST(sequence(1, {total})) AS t(x)")
    assert document["id"] and document["nextUri"] and document["stats"]["state"] in ("RUNNING", "QUEUED")
    rows = fetch(connect(), f"SELECT x FROM UNNEST(sequence(1, {total})) AS t(x)")
    assert [row[0] for row in rows] == list(range(1, total + 1))


def test_a_small_query_answers_in_one_round_trip(endpoint: BackgroundServer) -> None:
    document = _post(endpoint, "SELECT 1 AS one, 'a' AS letter")
    assert "nextUri" not in document
    assert document["stats"]["state"] == "FINISHED"
    assert document["data"] == [[1, "a"]]
    assert [c["type"] for c in document["columns"]] == ["integer", "varchar"]
    assert document["columns"][1]["typeSignature"] == {
        "rawType": "varchar",
        "arguments": [{"kind": "LONG", "value": 2147483647}],
    }


def test_delete_cancels_a_running_query(endpoint: BackgroundServer) -> None:
    document = _post(endpoint, f"SELECT x FROM UNNEST(sequence(1, {PAGE_ROWS * 20})) AS t(x)")
    response = requests.delete(document["nextUri"], headers={"X-Trino-User": "admin"}, timeout=10)
    assert response.status_code == 204
    gone = requests.get(document["nextUri"], headers={"X-Trino-User": "admin"}, timeout=10)
    assert gone.status_code == 404


def test_another_user_cannot_read_someone_elses_query(endpoint: BackgroundServer) -> None:
    document = _post(endpoint, f"SELECT x FROM UNNEST(sequence(1, {PAGE_ROWS * 4})) AS t(x)")
    response = requests.get(document["nextUri"], headers={"X-Trino-User": "mallory"}, timeout=10)
    assert response.status_code == 404
    requests.delete(document["nextUri"], headers={"X-Trino-User": "admin"}, timeout=10)


def test_use_sets_catalog_and_schema_for_the_next_statements(connect: Connect) -> None:
    connection = connect(catalog=None)
    cursor = connection.cursor()
    cursor.execute("USE lake.curated")
    cursor.fetchall()
    assert cursor.update_type == "USE"
    assert fetch(connection, "SELECT count(*) FROM customers") == [[4]]


def test_use_of_a_missing_schema_fails(connect: Connect) -> None:
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect(), "USE lake.nowhere")
    assert failure.value.error_name == "SCHEMA_NOT_FOUND"


def test_session_properties_round_trip_through_headers(connect: Connect) -> None:
    connection = connect()
    fetch(connection, "SET SESSION query_max_run_time = '10s'")
    assert connection._client_session.properties == {"query_max_run_time": "10s"}
    assert fetch(connection, "SHOW SESSION LIKE 'query%'")[0][:2] == ["query_max_run_time", "10s"]
    assert len(fetch(connection, "SHOW SESSION LIKE 'query!_max%' ESCAPE '!'")) == 1
    assert fetch(connection, "SHOW SESSION LIKE 'query!%' ESCAPE '!'") == []
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connection, "SET SESSION no_such_property = 1")
    assert failure.value.error_name == "INVALID_SESSION_PROPERTY"


@pytest.mark.parametrize("legacy", [True, False])
def test_dbapi_parameters_are_bound(connect: Connect, legacy: bool) -> None:
    connection = connect(schema="curated", legacy_prepared_statements=legacy)
    rows = fetch(connection, "SELECT customer_id, ? FROM customers WHERE birth_year > ? ORDER BY 1", ["x", 1980])
    assert rows == [["c1", "x"], ["c2", "x"]]


@pytest.mark.parametrize("legacy", [True, False])
def test_parameters_bind_in_the_order_of_their_placeholders_in_the_text(connect: Connect, legacy: bool) -> None:
    """sqlglot's tree holds OFFSET before LIMIT and a query before its CTEs: bound in tree order, these swapped."""
    connection = connect(legacy_prepared_statements=legacy)
    paged = "SELECT card_id FROM raw.cards ORDER BY card_id OFFSET ? LIMIT ?"
    assert fetch(connection, paged, [0, 2]) == [["k1"], ["k2"]]
    assert fetch(connection, "WITH a AS (SELECT ? AS x) SELECT ? AS y, x FROM a", ["first", "second"]) == [
        ["second", "first"]
    ]


def test_wrong_parameter_count_is_a_user_error(connect: Connect) -> None:
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect(), "EXECUTE IMMEDIATE 'SELECT ?, ?' USING 1")
    assert failure.value.error_name == "INVALID_PARAMETER_USAGE"


def test_show_statements_list_the_lake(connect: Connect) -> None:
    connection = connect(schema="curated")
    assert fetch(connection, "SHOW CATALOGS") == [["lake"], ["system"]]
    schemas = [row[0] for row in fetch(connection, "SHOW SCHEMAS")]
    assert {"raw", "curated", "information_schema"} <= set(schemas)
    assert fetch(connection, "SHOW TABLES FROM raw LIKE 'c%'") == [["cards"], ["customers"]]
    assert fetch(connection, "SHOW TABLES LIKE 'all\\_%' ESCAPE '\\'") == [["all_types"]]
    assert fetch(connection, "SHOW TABLES LIKE 'c{x}%'") == []
    assert fetch(connection, "SHOW TABLES") == [["all_types"], ["customers"]]
    described = fetch(connection, "DESCRIBE customers")
    assert described[0] == ["customer_id", "varchar", "", ""]
    assert fetch(connection, "SHOW COLUMNS FROM raw.customers")[-1][:2] == ["created_at", "timestamp(6) with time zone"]
    create = fetch(connection, "SHOW CREATE TABLE raw.customers")[0][0]
    assert create.startswith("CREATE TABLE lake.raw.customers (") and "email varchar NOT NULL" in create


def test_explain_returns_a_query_plan(connect: Connect) -> None:
    cursor = connect().cursor()
    cursor.execute("EXPLAIN SELECT card_id FROM raw.cards WHERE card_type = 'debit'")
    (plan,) = cursor.fetchone()
    assert cursor.description[0].name == "Query Plan"
    assert "ICEBERG_SCAN" in plan.upper()


def test_information_schema_answers_sql_clients(connect: Connect) -> None:
    rows = fetch(
        connect(),
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = 'cards' ORDER BY ordinal_position",
    )
    assert rows[2] == ["card_number", "varchar", "NO"]
    tables = fetch(connect(), "SELECT table_name FROM lake.information_schema.tables WHERE table_schema = 'raw'")
    assert sorted(tables) == [["cards"], ["customers"]]


def test_jdbc_metadata_tables_describe_columns_and_types(connect: Connect) -> None:
    """What the Trino JDBC driver's getColumns and getTypeInfo read (DBeaver browses tables with them)."""
    columns = fetch(
        connect(),
        "SELECT COLUMN_NAME, DATA_TYPE, TYPE_NAME, COLUMN_SIZE, DECIMAL_DIGITS, NULLABLE, ORDINAL_POSITION "
        "FROM system.jdbc.columns WHERE TABLE_CAT = 'lake' AND TABLE_SCHEM LIKE 'curated' ESCAPE '\\' "
        "AND TABLE_NAME LIKE 'all\\_types' ESCAPE '\\' ORDER BY ORDINAL_POSITION",
    )
    by_name = {row[0]: row[1:6] for row in columns}
    assert [row[6] for row in columns] == list(range(1, 17))
    assert by_name["c_varchar"] == [12, "varchar", None, None, 1]
    assert by_name["c_bigint"] == [-5, "bigint", 19, 0, 1]
    assert by_name["c_decimal"] == [3, "decimal(10,2)", 10, 2, 1]
    assert by_name["c_timestamptz"] == [2014, "timestamp(6) with time zone", None, 6, 1]
    assert by_name["c_array"][:2] == [2003, "array(bigint)"] and by_name["c_map"][0] == 2000
    hidden = fetch(connect("alice"), "SELECT COLUMN_NAME FROM system.jdbc.columns WHERE TABLE_NAME = 'customers'")
    assert ["full_name"] not in hidden and ["email"] in hidden
    types = dict(fetch(connect(), "SELECT TYPE_NAME, DATA_TYPE FROM system.jdbc.types"))
    assert (types["varchar"], types["timestamp with time zone"], types["row"]) == (12, 2014, 2000)


def test_time_travel_reads_older_snapshots(connect: Connect, lake_catalog: Catalog) -> None:
    table = lake_catalog.load_table("curated.customers")
    first, second = sorted(table.metadata.snapshots, key=lambda s: s.sequence_number)
    connection = connect(schema="curated")
    assert fetch(connection, f"SELECT count(*) FROM customers FOR VERSION AS OF {first.snapshot_id}") == [[3]]
    assert fetch(connection, f"SELECT count(*) FROM customers FOR VERSION AS OF {second.snapshot_id}") == [[4]]
    from datetime import UTC, datetime

    as_of = datetime.fromtimestamp(first.timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = fetch(connection, f"SELECT count(*) FROM customers FOR TIMESTAMP AS OF TIMESTAMP '{as_of} UTC'")
    assert rows == [[3]]
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connection, "SELECT * FROM customers FOR VERSION AS OF 42")
    assert "snapshot" in failure.value.message
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(
            connection, 'SELECT * FROM customers FOR VERSION AS OF (SELECT max(snapshot_id) FROM "customers$history")'
        )
    assert (failure.value.error_name, failure.value.message) == (
        "NOT_SUPPORTED",
        "FOR VERSION AS OF takes a constant expression, not a query",
    )


def test_metadata_tables_list_the_snapshots_that_time_travel_reads(connect: Connect, lake_catalog: Catalog) -> None:
    table = lake_catalog.load_table("curated.customers")
    first, second = sorted(table.metadata.snapshots, key=lambda s: s.sequence_number)
    connection = connect(schema="curated")
    cursor = connection.cursor()
    cursor.execute(
        "SELECT snapshot_id, parent_id, operation, summary['added-records'], committed_at "
        'FROM lake.curated."customers$snapshots"'
    )
    snapshots = cursor.fetchall()
    assert sorted(row[:4] for row in snapshots) == sorted(
        [[first.snapshot_id, None, "append", "3"], [second.snapshot_id, first.snapshot_id, "append", "1"]]
    )
    assert cursor.description[4][1] == "timestamp(6) with time zone"
    assert {round(row[4].timestamp() * 1000) for row in snapshots} == {first.timestamp_ms, second.timestamp_ms}
    history = fetch(connection, 'SELECT snapshot_id, parent_id, is_current_ancestor FROM "customers$history"')
    assert sorted(history) == sorted([[first.snapshot_id, None, True], [second.snapshot_id, first.snapshot_id, True]])
    refs = fetch(connection, 'SELECT name, type, snapshot_id FROM "customers$refs"')
    assert refs == [["main", "BRANCH", second.snapshot_id]]
    properties = dict(fetch(connection, 'SELECT key, value FROM "customers$properties"'))
    assert properties == table.properties
    sizes = sum(task.file.file_size_in_bytes for task in table.scan().plan_files())
    assert fetch(connection, 'SELECT record_count, file_count, total_size FROM "customers$partitions"') == [
        [4, 2, sizes]
    ]
    for missing in ('"customers$files"', '"nothing$snapshots"'):
        with pytest.raises(trino.exceptions.TrinoUserError) as failure:
            fetch(connection, f"SELECT * FROM {missing}")
        assert failure.value.error_name == "TABLE_NOT_FOUND"


def test_the_lake_is_read_only(connect: Connect) -> None:
    connection = connect(schema="raw")
    for statement in (
        "INSERT INTO cards VALUES ('k9', 'c1', '1', 'credit', 1, TIMESTAMP '2024-01-01 00:00:00 UTC')",
        "DELETE FROM cards",
        "UPDATE cards SET card_type = 'debit'",
        "CREATE TABLE lake.raw.copy AS SELECT * FROM cards",
        "DROP TABLE cards",
        "ALTER TABLE cards ADD COLUMN x bigint",
    ):
        with pytest.raises(trino.exceptions.TrinoUserError) as failure:
            fetch(connection, statement)
        assert failure.value.error_name == "PERMISSION_DENIED", statement
        assert "read-only" in failure.value.message
    assert fetch(connection, "SELECT count(*) FROM cards") == [[3]]


@pytest.mark.parametrize(
    ("sql", "form"),
    [
        ("SHOW STATS FOR customers", "SHOW STATS"),
        ("SHOW FUNCTIONS", "SHOW FUNCTIONS"),
        ("DESCRIBE INPUT q", "DESCRIBE INPUT"),
    ],
)
def test_a_show_form_the_endpoint_does_not_answer_is_not_supported_rather_than_a_write(
    connect: Connect, sql: str, form: str
) -> None:
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect(schema="curated"), sql)
    assert failure.value.error_name == "NOT_SUPPORTED"
    assert failure.value.message.startswith(f"{form} is not supported by the Lakeforge SQL endpoint")


@pytest.mark.parametrize(
    ("sql", "name", "location"),
    [
        ("SELECT FROM WHERE", "SYNTAX_ERROR", (1, 13)),
        ("SELECT 'unterminated", "SYNTAX_ERROR", None),
        ("SELECT *\nFROM raw.missing", "TABLE_NOT_FOUND", (2, 6)),
        ("SELECT * FROM nowhere.cards", "SCHEMA_NOT_FOUND", (1, 15)),
        ("SELECT * FROM hive.raw.cards", "CATALOG_NOT_FOUND", (1, 15)),
        ("SELECT no_such_column FROM raw.cards", "COLUMN_NOT_FOUND", None),
        ("SELECT * FROM read_csv('/etc/passwd')", "NOT_SUPPORTED", None),
        ("SELECT CAST('x' AS bigint)", "INVALID_CAST_ARGUMENT", None),
    ],
)
def test_failures_answer_trino_shaped_errors(
    connect: Connect, sql: str, name: str, location: tuple[int, int] | None
) -> None:
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect(), sql)
    assert failure.value.error_name == name
    assert failure.value.error_type == "USER_ERROR"
    if location is not None:
        assert failure.value.error_location == location


def test_schema_qualified_columns_and_intervals_answer_as_in_trino(connect: Connect) -> None:
    """SQLAlchemy and Superset write ``schema.table.column``; DuckDB intervals come back as their text."""
    assert fetch(connect(), "SELECT raw.cards.card_id FROM raw.cards ORDER BY raw.cards.card_id") == [
        ["k1"],
        ["k2"],
        ["k3"],
    ]
    intervals = "SELECT INTERVAL '1' DAY, TIMESTAMP '2024-01-02 00:00:00' - TIMESTAMP '2024-01-01 01:00:00'"
    assert fetch(connect(), intervals) == [["1 day", "23:00:00"]]


def test_outputs_without_a_name_are_named_by_position_as_in_trino(connect: Connect) -> None:
    cursor = connect().cursor()
    cursor.execute("SELECT 1, count(*) AS n, card_id, upper(card_id), ? FROM raw.cards GROUP BY card_id", ["secret"])
    cursor.fetchall()
    assert [column.name for column in cursor.description] == ["_col0", "n", "card_id", "_col3", "_col4"]
    cursor.execute("SELECT count(*) FROM raw.cards UNION ALL SELECT 1")
    cursor.fetchall()
    assert [column.name for column in cursor.description] == ["_col0"]


def test_the_server_survives_concurrent_clients(connect: Connect) -> None:
    results: list[Any] = []

    def run() -> None:
        results.append(fetch(connect(), "SELECT count(*) FROM raw.customers"))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[[3]]] * 8


def test_sqlalchemy_inspector_lists_schemas_tables_and_columns(endpoint: BackgroundServer) -> None:
    engine = sa.create_engine(f"trino://admin@127.0.0.1:{endpoint.port}/lake/curated")
    inspector = sa.inspect(engine)
    assert {"raw", "curated"} <= set(inspector.get_schema_names())
    assert inspector.get_table_names("raw") == ["cards", "customers"]
    assert inspector.has_table("cards", "raw") and not inspector.has_table("nope", "raw")
    columns = {c["name"]: c for c in inspector.get_columns("all_types", "curated")}
    assert str(columns["c_decimal"]["type"]) == "DECIMAL(10, 2)"
    assert columns["c_timestamptz"]["type"].timezone is True
    assert inspector.get_pk_constraint("cards", "raw")["constrained_columns"] == []
    assert inspector.get_table_comment("cards", "raw") == {"text": None}
    engine.dispose()


def test_pandas_read_sql_through_sqlalchemy(endpoint: BackgroundServer) -> None:
    engine = sa.create_engine(f"trino://admin@127.0.0.1:{endpoint.port}/lake/raw")
    with engine.connect() as connection:
        frame = pd.read_sql(
            sa.text("SELECT card_id, credit_limit_cents FROM cards WHERE credit_limit_cents >= :low ORDER BY card_id"),
            connection,
            params={"low": 1},
        )
    assert frame.to_dict("list") == {"card_id": ["k1", "k3"], "credit_limit_cents": [500_000, 10_000]}
    engine.dispose()
