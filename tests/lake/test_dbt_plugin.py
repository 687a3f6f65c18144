import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import duckdb
import pytest
from pyiceberg.types import DateType, IcebergType, TimestampType, TimestamptzType

from lake.dbt_plugin import PII_KEY_VARIABLE, READ_EVERYTHING, Plugin, day_start_sql
from lake.settings import Settings

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


def test_every_cursor_gets_the_pii_key_as_given_and_utc(settings: Settings) -> None:
    key = "it's a key; DROP TABLE x --"
    plugin = Plugin(name="lake", plugin_config={"pii_key": key})
    connection = duckdb.connect()
    connection.execute("SET GLOBAL TimeZone = 'America/New_York'")
    plugin.configure_connection(connection)
    cursor = connection.cursor()
    plugin.configure_cursor(cursor)
    query = f"SELECT getvariable('{PII_KEY_VARIABLE}'), current_setting('TimeZone')"
    assert cursor.execute(query).fetchone() == (key, "UTC")


def test_a_process_that_made_a_plugin_freezes_its_objects_before_the_final_collection(settings: Settings) -> None:
    exit_report = "import atexit, gc; atexit.register(lambda: print(gc.get_freeze_count()))"
    make_plugin = "from lake.dbt_plugin import Plugin; Plugin(name='lake', plugin_config={})"
    frozen = []
    for script in (exit_report, f"{exit_report}; {make_plugin}"):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        frozen.append(int(run.stdout))
    assert frozen[0] == 0
    assert frozen[1] > 10_000
