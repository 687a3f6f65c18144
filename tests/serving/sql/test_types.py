"""Trino type names, signatures and value encodings, end to end through the ``trino`` client."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID

import duckdb
import pyarrow as pa
import pytest
import trino

from serving.sql.types import from_duckdb, from_iceberg
from tests.serving.sql.conftest import ALL_TYPES_ROW, ALL_TYPES_SCHEMA, Connect, fetch

EXPECTED_TYPES = {
    "c_varchar": "varchar",
    "c_bigint": "bigint",
    "c_integer": "integer",
    "c_real": "real",
    "c_double": "double",
    "c_boolean": "boolean",
    "c_date": "date",
    "c_time": "time(6)",
    "c_timestamp": "timestamp(6)",
    "c_timestamptz": "timestamp(6) with time zone",
    "c_decimal": "decimal(10,2)",
    "c_varbinary": "varbinary",
    "c_uuid": "uuid",
    "c_array": "array(bigint)",
    "c_map": "map(varchar, bigint)",
    "c_row": "row(a integer, b varchar)",
}


def test_every_iceberg_type_arrives_typed_and_decoded(connect: Connect) -> None:
    cursor = connect().cursor()
    cursor.execute("SELECT * FROM curated.all_types ORDER BY c_bigint NULLS LAST")
    values, nulls = cursor.fetchall()
    assert {d.name: d.type_code for d in cursor.description} == EXPECTED_TYPES
    row = dict(zip(EXPECTED_TYPES, values, strict=True))
    assert row["c_row"] == (1, "x") and row["c_row"].a == 1
    expected = {**ALL_TYPES_ROW, "c_row": row["c_row"]}
    assert row == expected
    assert nulls == [None] * len(EXPECTED_TYPES)


def test_metadata_types_match_result_types() -> None:
    assert {f.name: from_iceberg(f.field_type) for f in ALL_TYPES_SCHEMA.fields} == EXPECTED_TYPES


def test_small_integers_special_floats_and_literals(connect: Connect) -> None:
    cursor = connect().cursor()
    cursor.execute(
        "SELECT CAST(1 AS tinyint), CAST(2 AS smallint), CAST('NaN' AS double), CAST('-Infinity' AS double), "
        "CAST(0.5 AS real), DATE '2024-03-01', TIME '01:02:03.456', TIMESTAMP '2024-03-01 01:02:03.5', "
        "TIMESTAMP '2024-03-01 01:02:03 UTC', CAST(NULL AS varchar), ARRAY[DATE '2024-01-01', NULL], "
        "UUID '12151fd2-7586-11e9-8f9e-2a86e4085a59', X'CAFE'"
    )
    row = cursor.fetchone()
    types = [d.type_code for d in cursor.description]
    assert types[:5] == ["tinyint", "smallint", "double", "double", "real"]
    assert row[:2] == [1, 2] and math.isnan(row[2]) and row[3] == float("-inf") and row[4] == 0.5
    assert row[5:9] == [
        date(2024, 3, 1),
        time(1, 2, 3, 456000),
        datetime(2024, 3, 1, 1, 2, 3, 500000),
        datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC),
    ]
    assert row[9] is None and row[10] == [date(2024, 1, 1), None]
    assert row[11] == UUID("12151fd2-7586-11e9-8f9e-2a86e4085a59") and row[12] == b"\xca\xfe"


def test_a_sum_of_integers_is_a_bigint_that_overflows_with_an_error(connect: Connect) -> None:
    """DuckDB sums integers into HUGEINT; Trino's sum(bigint) is a bigint (BI tools get ints, not decimals)."""
    cursor = connect().cursor()
    cursor.execute("SELECT sum(x), count_if(x > 1) FROM UNNEST(ARRAY[1, 2, 3]) AS t(x)")
    assert cursor.fetchall() == [[6, 2]]
    assert [d.type_code for d in cursor.description] == ["bigint", "bigint"]
    with pytest.raises(trino.exceptions.TrinoUserError) as failure:
        fetch(connect(), "SELECT sum(x) FROM UNNEST(ARRAY[9223372036854775807, 1]) AS t(x)")
    assert failure.value.error_name == "NUMERIC_VALUE_OUT_OF_RANGE"


def test_decimal_literals_and_parameters_keep_their_digits(connect: Connect) -> None:
    """sqlglot reads DECIMAL '1.23456' as a CAST to DECIMAL, which DuckDB made decimal(18,3): 1.235. The trino
    client sends Decimal parameters as such literals."""
    cursor = connect().cursor()
    cursor.execute("SELECT DECIMAL '1.23456', ?", [Decimal("98765.4321")])
    assert cursor.fetchall() == [[Decimal("1.23456"), Decimal("98765.4321")]]


def test_encodings_follow_trino_formats_without_a_server() -> None:
    relation = duckdb.sql(
        "SELECT 12.5::DECIMAL(5,2) AS d, TIMESTAMPTZ '2024-01-02 03:04:05+02' AS ts, {'k': [1]} AS r, 10::HUGEINT AS h"
    )
    kinds = [from_duckdb(t) for t in relation.types]
    batch = relation.to_arrow_table().combine_chunks().to_batches()[0]
    encoded = [kind.encode_array(batch.column(i)) for i, kind in enumerate(kinds)]
    assert [k.name for k in kinds] == [
        "decimal(5,2)",
        "timestamp(6) with time zone",
        "row(k array(integer))",
        "bigint",
    ]
    assert encoded == [["12.50"], ["2024-01-02 01:04:05.000000 UTC"], [[[1]]], [10]]
    assert kinds[2].signature()["arguments"][0]["kind"] == "NAMED_TYPE"
    assert kinds[0].encode_array(pa.array([None], pa.decimal128(5, 2))) == [None]
    assert Decimal(encoded[0][0]) == Decimal("12.5")
