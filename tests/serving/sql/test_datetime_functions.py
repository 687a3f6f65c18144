"""Trino's date-time functions that DuckDB lacks answer as in Trino, through a Trino client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trino.exceptions

from serving.sql.datetime_functions import joda_to_strftime
from tests.serving.sql.conftest import Connect, select_value


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("to_iso8601(c_date)", "2024-02-29"),
        ("to_iso8601(c_timestamp)", "2024-01-02T03:04:05.123456"),
        ("to_iso8601(c_timestamptz)", "2024-01-02T03:04:05.123456Z"),
        ("format_datetime(c_timestamp, 'yyyy-MM-dd HH:mm:ss.SSS')", "2024-01-02 03:04:05.123"),
        ("format_datetime(c_timestamptz, 'EEEE d MMMM yy, h:mm a z')", "Tuesday 2 January 24, 3:04 AM UTC"),
        ("format_datetime(c_timestamp, '''week of'' yyyy-MM-dd, ''''D'''' = D')", "week of 2024-01-02, '2' = 2"),
        ("format_datetime(c_timestamp, 'dd/MM %')", "02/01 %"),
        ("current_timezone()", "UTC"),
    ],
)
def test_formatting_functions_answer_trinos_text(connect: Connect, expression: str, value: str) -> None:
    assert select_value(connect, expression) == (value, "varchar")


def test_parse_datetime_reads_joda_patterns_as_a_timestamp_with_time_zone(connect: Connect) -> None:
    value, kind = select_value(connect, "parse_datetime('29/02/2024 7:05 PM', 'dd/MM/yyyy h:mm a')")
    assert value == datetime(2024, 2, 29, 19, 5, tzinfo=UTC)
    assert kind.startswith("timestamp") and kind.endswith("with time zone")


def test_time_zone_functions_keep_the_instant(connect: Connect) -> None:
    """``with_timezone`` reads a timestamp as local time in the zone; ``at_timezone`` shows an instant there
    (local time, as the endpoint's ``AT TIME ZONE``)."""
    value, _ = select_value(connect, "with_timezone(c_timestamp, 'America/New_York')")
    assert value == datetime(2024, 1, 2, 8, 4, 5, 123456, tzinfo=UTC)
    assert select_value(connect, "hour(at_timezone(c_timestamptz, 'Asia/Tokyo'))")[0] == 12
    assert select_value(connect, "at_timezone(c_timestamptz, 'Asia/Tokyo')") == select_value(
        connect, "c_timestamptz AT TIME ZONE 'Asia/Tokyo'"
    )


def test_nested_calls_are_rewritten_inside_out(connect: Connect) -> None:
    value = "to_iso8601(parse_datetime(format_datetime(c_timestamp, 'yyyy-MM-dd HH:mm'), 'yyyy-MM-dd HH:mm'))"
    assert select_value(connect, value)[0] == "2024-01-02T03:04:00.000000Z"


@pytest.mark.parametrize(
    ("expression", "error", "named"),
    [
        ("format_datetime(c_timestamp, 'G yyyy')", "NOT_SUPPORTED", "'G'"),
        ("format_datetime(c_timestamp, 'yyyy ''oops')", "INVALID_FUNCTION_ARGUMENT", "unclosed quote"),
        ("format_datetime(c_timestamp, c_varchar)", "NOT_SUPPORTED", "string literal"),
        ("parse_datetime(c_varchar, 'ZZ')", "NOT_SUPPORTED", "'ZZ'"),
        ("to_iso8601(c_date, c_date)", "FUNCTION_NOT_FOUND", "takes 1 argument"),
    ],
)
def test_untranslatable_calls_fail_naming_what_is_wrong(
    connect: Connect, expression: str, error: str, named: str
) -> None:
    with pytest.raises(trino.exceptions.TrinoUserError) as raised:
        select_value(connect, expression)
    assert raised.value.error_name == error
    assert named in raised.value.message


def test_joda_letters_map_to_duckdb_specifiers() -> None:
    assert joda_to_strftime("y-M-d H:m:s", "f") == "%Y-%-m-%-d %-H:%-M:%-S"
    assert joda_to_strftime("yyyyy MMMMM EEEEE SSSSSS SSSSSSSSS", "f") == "%Y %B %A %f %n"
    assert joda_to_strftime("''", "f") == "'"
