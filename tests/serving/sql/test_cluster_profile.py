"""The endpoint over the cluster profile's PostgreSQL catalog (the one Trino's JDBC catalog reads)."""

from __future__ import annotations

import pytest
import trino
from pyiceberg.catalog import Catalog

from lake.settings import Settings
from serving.sql.server import BackgroundServer
from tests.serving.sql.conftest import build_lake, fetch


@pytest.mark.postgres
def test_queries_and_time_travel_over_the_postgresql_catalog(
    cluster_settings: Settings, cluster_catalog: Catalog
) -> None:
    build_lake(cluster_catalog)
    first = min(cluster_catalog.load_table("curated.customers").metadata.snapshots, key=lambda s: s.sequence_number)
    with BackgroundServer(cluster_settings) as server:
        connection = trino.dbapi.connect(host="127.0.0.1", port=server.port, user="analyst", catalog="lake")
        assert fetch(connection, "SELECT count(*) FROM curated.customers") == [[4]]
        rows = fetch(connection, f"SELECT count(*) FROM curated.customers FOR VERSION AS OF {first.snapshot_id}")
        assert rows == [[3]]
        listed = fetch(connection, 'SELECT snapshot_id FROM curated."customers$snapshots" WHERE parent_id IS NULL')
        assert listed == [[first.snapshot_id]], "the shipped rules let an analyst list what time travel reads"
        assert fetch(connection, "SELECT max(email) FROM curated.customers") == [["***@example.com"]]
        with pytest.raises(trino.exceptions.TrinoUserError) as failure:
            fetch(connection, "SELECT * FROM raw.cards")
        assert failure.value.error_name == "PERMISSION_DENIED"
