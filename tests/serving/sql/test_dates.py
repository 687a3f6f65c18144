"""Date arithmetic on dates answers dates, as in Trino (DuckDB alone would answer timestamps)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.serving.sql.conftest import ALL_TYPES_ROW, Connect, select_value

DAY: date = ALL_TYPES_ROW["c_date"]  # 2024-02-29
MOMENT: datetime = ALL_TYPES_ROW["c_timestamp"]


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("date_add('day', 1, c_date)", date(2024, 3, 1)),
        ("date_add('month', 1, t.c_date)", date(2024, 3, 29)),
        ("date_add('year', 1, date_add('day', 1, c_date))", date(2025, 3, 1)),
        ("date_trunc('month', c_date)", date(2024, 2, 1)),
        ("c_date + INTERVAL '1' DAY", date(2024, 3, 1)),
        ("c_date - INTERVAL '1' MONTH", date(2024, 1, 29)),
        ("date_add('week', 1, DATE '2024-01-01')", date(2024, 1, 8)),
    ],
)
def test_arithmetic_on_a_date_stays_a_date(connect: Connect, expression: str, value: date) -> None:
    assert select_value(connect, expression, "curated.all_types t WHERE c_date IS NOT NULL") == (value, "date")


@pytest.mark.parametrize(
    ("expression", "source", "value"),
    [
        (
            "date_trunc('month', c_date)",
            "(SELECT c_date FROM curated.all_types) AS virtual_table WHERE c_date IS NOT NULL",
            date(2024, 2, 1),
        ),
        (
            "date_trunc('month', d)",
            "(SELECT c_date AS d, c_timestamp FROM curated.all_types) v WHERE d IS NOT NULL",
            date(2024, 2, 1),
        ),
        (
            "date_trunc('month', v.c_date)",
            "(SELECT * FROM curated.all_types) v WHERE c_date IS NOT NULL",
            date(2024, 2, 1),
        ),
        (
            "date_add('day', 1, c_date)",
            "(SELECT a.* FROM curated.all_types a) v WHERE c_date IS NOT NULL",
            date(2024, 3, 1),
        ),
        (
            "date_add('day', 1, m)",
            "(SELECT date_trunc('month', c_date) AS m FROM curated.all_types) v WHERE m IS NOT NULL",
            date(2024, 2, 2),
        ),
        (
            "date_trunc('month', d)",
            "(SELECT CAST(c_timestamp AS DATE) AS d FROM curated.all_types) v WHERE d IS NOT NULL",
            date(2024, 1, 1),
        ),
        (
            "date_trunc('year', c_date)",
            "(WITH x AS (SELECT c_date FROM curated.all_types) SELECT * FROM x) v WHERE c_date IS NOT NULL",
            date(2024, 1, 1),
        ),
    ],
)
def test_a_date_through_a_subquery_or_cte_stays_a_date(
    connect: Connect, expression: str, source: str, value: date
) -> None:
    """BI tools wrap a dataset's SQL in a subquery: its date columns are still dates."""
    assert select_value(connect, expression, source) == (value, "date")


def test_timestamps_and_columns_of_unknown_type_keep_duckdbs_answer(connect: Connect) -> None:
    assert select_value(connect, "date_add('hour', 1, c_timestamp)") == (
        MOMENT.replace(hour=MOMENT.hour + 1),
        "timestamp(6)",
    )
    assert select_value(connect, "date_trunc('day', c_timestamp)")[1] == "timestamp(6)"
    in_a_cte = (
        "(WITH x AS (SELECT c_timestamp AS c_date FROM curated.all_types) SELECT * FROM x) y WHERE c_date IS NOT NULL"
    )
    assert select_value(connect, "date_add('day', 1, c_date)", in_a_cte)[1] == "timestamp(6)"
    in_a_subquery = "(SELECT c_timestamp AS c_date FROM curated.all_types) v WHERE c_date IS NOT NULL"
    assert select_value(connect, "date_trunc('day', c_date)", in_a_subquery)[1] == "timestamp(6)"
