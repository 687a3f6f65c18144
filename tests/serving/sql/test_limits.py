"""Per-query limits: a runaway query is interrupted and says so; oversized results fail; an abandoned query stops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trino

from lake.catalog import load_catalog
from serving.sql import server
from serving.sql.limits import parse_duration
from serving.sql.server import BackgroundServer
from tests.conftest import clean_environment
from tests.serving.sql.conftest import build_lake, endpoint_settings, fetch


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    with clean_environment():
        settings = endpoint_settings(
            tmp_path_factory.mktemp("limits") / "home", query_timeout_s=1.0, max_result_rows=50_000
        )
        build_lake(load_catalog(settings))
        with BackgroundServer(settings) as server:
            yield server


def _connect(server: BackgroundServer) -> trino.dbapi.Connection:
    return trino.dbapi.connect(host="127.0.0.1", port=server.port, user="admin", catalog="lake")


RUNAWAY = (
    "SELECT count(*) FROM UNNEST(sequence(1, 20000)) a(x) CROSS JOIN UNNEST(sequence(1, 200000)) b(y) "
    "WHERE x * y % 7 = 3"
)


def test_a_runaway_query_is_cancelled_and_says_so(limited: BackgroundServer) -> None:
    with pytest.raises(trino.exceptions.TrinoQueryError) as failure:
        fetch(_connect(limited), RUNAWAY)
    assert failure.value.error_name == "EXCEEDED_TIME_LIMIT"
    assert failure.value.error_type == "INSUFFICIENT_RESOURCES"
    assert "maximum run time of 1s" in failure.value.message
    assert fetch(_connect(limited), "SELECT 1") == [[1]]


def test_a_session_can_lower_the_timeout_but_not_raise_it(limited: BackgroundServer) -> None:
    connection = _connect(limited)
    fetch(connection, "SET SESSION query_max_run_time = '1h'")
    with pytest.raises(trino.exceptions.TrinoQueryError) as failure:
        fetch(connection, RUNAWAY)
    assert "maximum run time of 1s" in failure.value.message


def test_a_malformed_run_time_in_the_session_header_fails_the_query(limited: BackgroundServer) -> None:
    """It was parsed before the query's error handling began, and the query stayed queued for good (polled here a
    bounded number of times, so that would fail rather than hang)."""
    headers = {"X-Trino-User": "admin", "X-Trino-Session": "query_max_run_time=abc"}
    answer = requests.post(f"http://127.0.0.1:{limited.port}/v1/statement", data="SELECT 1", headers=headers).json()
    for _ in range(100):
        if "error" in answer or "nextUri" not in answer:
            break
        time.sleep(0.05)
        answer = requests.get(answer["nextUri"], headers=headers).json()
    assert answer["stats"]["state"] == "FAILED"
    assert answer["error"]["errorName"] == "INVALID_SESSION_PROPERTY"
    assert "'abc' is not a duration" in answer["error"]["message"]


def test_results_over_the_row_limit_fail(limited: BackgroundServer) -> None:
    with pytest.raises(trino.exceptions.TrinoQueryError) as failure:
        fetch(_connect(limited), "SELECT x FROM UNNEST(sequence(1, 60000)) AS t(x)")
    assert failure.value.error_name == "EXCEEDED_SCAN_LIMIT"
    assert "50,000 rows" in failure.value.message
    assert len(fetch(_connect(limited), "SELECT x FROM UNNEST(sequence(1, 50000)) AS t(x)")) == 50_000


def test_durations_parse_like_trino() -> None:
    assert parse_duration("1.5m") == 90.0
    assert parse_duration("500ms") == 0.5
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("soon")


def test_a_query_its_client_stopped_asking_about_is_abandoned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As Trino's ``query.client.timeout``: a client that exits mid-result does not hold a worker and its pages until
    the query's own time limit; the query fails with ABANDONED_QUERY and is forgotten."""
    monkeypatch.setattr(server, "AUDIT_FLUSH_INTERVAL_S", 0.1)
    with clean_environment():
        settings = endpoint_settings(tmp_path / "home", client_timeout_s=0.5, query_timeout_s=120.0)
        catalog = load_catalog(settings)
        build_lake(catalog)
        with BackgroundServer(settings) as background:
            headers = {"X-Trino-User": "admin"}
            many_pages = "SELECT x FROM UNNEST(sequence(1, 200000)) AS t(x)"
            url = f"http://127.0.0.1:{background.port}/v1/statement"
            answer = requests.post(url, data=many_pages, headers=headers).json()
            time.sleep(3)  # the client never comes back; the result waits for it, unread pages ahead
            assert requests.get(answer["nextUri"], headers=headers).status_code == 404
        [entry] = catalog.load_table("ops.query_log").scan().to_arrow().to_pylist()
    assert (entry["state"], entry["error_name"]) == ("FAILED", "ABANDONED_QUERY")
    assert "abandoned by the client" in entry["error_message"]
    assert entry["duration_ms"] < 60_000
