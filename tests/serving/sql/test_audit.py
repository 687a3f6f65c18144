"""Every statement lands in Iceberg ``ops.query_log``, in batches, flushed on shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest
import trino

from lake.catalog import load_catalog
from serving.sql.server import BackgroundServer
from tests.conftest import clean_environment
from tests.serving.sql.conftest import build_lake, endpoint_settings, fetch


def test_queries_are_audited_in_one_batch_at_shutdown(tmp_path: Path) -> None:
    with clean_environment():
        settings = endpoint_settings(tmp_path / "home")
        catalog = load_catalog(settings)
        build_lake(catalog)
        with BackgroundServer(settings) as server:
            connection = trino.dbapi.connect(host="127.0.0.1", port=server.port, user="alice", catalog="lake")
            for _ in range(3):
                fetch(connection, "SELECT count(*) FROM curated.customers")
            with pytest.raises(trino.exceptions.TrinoUserError):
                fetch(connection, "SELECT * FROM raw.cards")
        log = catalog.load_table("ops.query_log")
        entries = log.scan().to_arrow().sort_by("started_at").to_pylist()
    assert len(log.metadata.snapshots) == 1
    assert [e["state"] for e in entries] == ["FINISHED"] * 3 + ["FAILED"]
    assert {e["user_name"] for e in entries} == {"alice"}
    assert entries[0]["sql"] == "SELECT count(*) FROM curated.customers" and entries[0]["rows"] == 1
    assert entries[-1]["error_name"] == "PERMISSION_DENIED" and "raw.cards" in entries[-1]["error_message"]
    assert all(e["duration_ms"] >= 0 and e["source"] == "trino-python-client" for e in entries)


def test_users_read_only_their_own_audit_entries(tmp_path: Path) -> None:
    with clean_environment():
        settings = endpoint_settings(tmp_path / "home")
        build_lake(load_catalog(settings))
        with BackgroundServer(settings) as first:
            for user in ("alice", "bob"):
                fetch(trino.dbapi.connect(host="127.0.0.1", port=first.port, user=user), "SELECT 1")
        with BackgroundServer(settings) as second:
            connection = trino.dbapi.connect(host="127.0.0.1", port=second.port, user="alice", catalog="lake")
            rows = fetch(connection, "SELECT user_name, sql FROM ops.query_log")
    assert rows == [["alice", "SELECT 1"]]
