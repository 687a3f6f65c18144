from datetime import UTC, date, datetime, timedelta, timezone

import duckdb
import pytest
from pyiceberg.types import DateType, IcebergType, TimestampType, TimestamptzType

from lake.dbt_plugin import READ_EVERYTHING, day_start_sql

LATE_EVENING_IN_NEW_YORK = datetime(2026, 1, 29, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
"""Already 30 January in UTC."""


@pytest.mark.parametrize(
    ("field_type", "type_name", "start"),
    [
        (DateType(), "DATE", date(2026, 1, 30)),
        (TimestamptzType(), "TIMESTAMP WITH TIME ZONE", datetime(2026, 1, 30, tzinfo=UTC)),
        (TimestampType(), "TIMESTAMP", datetime(2026, 1, 30)),
    ],
)
def test_day_start_is_a_constant_of_the_column_type_whatever_the_session_time_zone(
    field_type: IcebergType, type_name: str, start: object
) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    for moment, expected in ((LATE_EVENING_IN_NEW_YORK, start), (None, None)):
        literal = day_start_sql(moment, field_type)
        assert con.execute(f"SELECT typeof(x), x FROM (SELECT {literal} AS x)").fetchone() == (type_name, expected)


def test_read_everything_is_the_first_day_a_column_can_hold() -> None:
    literal = day_start_sql(READ_EVERYTHING, DateType())
    assert duckdb.sql(f"SELECT {literal} = DATE '0001-01-01'").fetchone() == (True,)
