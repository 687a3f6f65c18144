"""DuckDB sessions over an S3 warehouse: the settings' endpoint and keys become DuckDB's S3 secret."""

from __future__ import annotations

import duckdb
import pytest

from lake.duck import S3_EXTENSION, connect
from lake.settings import Settings, load_settings


@pytest.mark.parametrize(
    ("endpoint", "host", "ssl"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1:9000", "false"),
        ("https://minio.example:9000/", "minio.example:9000", "true"),
    ],
)
def test_s3_settings_become_the_secret_duckdb_picks_for_the_warehouse(endpoint: str, host: str, ssl: str) -> None:
    settings = load_settings(
        profile="cluster",
        catalog={
            "warehouse": "s3://lake/warehouse",
            "s3_endpoint": endpoint,
            "s3_access_key_id": "key-id",
            "s3_secret_access_key": "it's secret",  # a quote must not break CREATE SECRET
            "s3_region": "eu-west-3",
        },
    )
    con = connect(settings)
    assert _loaded(con, S3_EXTENSION)
    assert con.execute("SELECT name FROM which_secret('s3://lake/warehouse/raw/t.parquet', 's3')").fetchone() == (
        "lakeforge_s3",
    )
    (described,) = con.execute("SELECT secret_string FROM duckdb_secrets()").fetchone()
    fields = dict(part.split("=", 1) for part in described.split(";"))
    assert (fields["endpoint"], fields["use_ssl"], fields["url_style"]) == (host, ssl, "path")
    assert (fields["key_id"], fields["region"]) == ("key-id", "eu-west-3")


def test_a_local_warehouse_gets_no_s3_secret_nor_s3_reader(settings: Settings) -> None:
    con = connect(settings)
    assert con.execute("SELECT count(*) FROM duckdb_secrets()").fetchone() == (0,)
    assert not _loaded(con, S3_EXTENSION)


def _loaded(con: duckdb.DuckDBPyConnection, extension: str) -> bool:
    return con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [extension]).fetchone() == (
        True,
    )
