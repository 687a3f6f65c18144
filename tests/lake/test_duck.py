"""DuckDB sessions over the lake: the settings' S3 endpoint and keys become DuckDB's S3 secret, and a connection
confined to the warehouse opens no other file."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.duck import S3_EXTENSION, confine_to_warehouse, connect
from lake.settings import Settings, load_settings
from tests.conftest import s3_client


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


def test_a_confined_connection_opens_files_under_the_local_warehouse_only(settings: Settings, tmp_path: Path) -> None:
    warehouse = Path(urlparse(settings.catalog.warehouse or "").path)
    inside, outside = warehouse / "curated" / "t.parquet", tmp_path / "secret.parquet"
    for path in (inside, outside):
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"n": [1, 2]}), path)
    con = connect(settings)

    confine_to_warehouse(con, settings)

    assert con.execute(f"SELECT sum(n) FROM '{inside}'").fetchone() == (3,)
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM '{outside}'")
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_text('/etc/hostname')")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET enable_external_access = true")


def test_a_confined_connection_opens_objects_under_the_s3_warehouse_only(
    cluster_s3_settings: Settings, s3_endpoint: str
) -> None:
    warehouse = urlparse(cluster_s3_settings.catalog.warehouse or "")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"n": [1, 2]}), buffer)
    for key in ("warehouse/curated/t.parquet", "elsewhere/t.parquet"):
        s3_client(s3_endpoint).put_object(Bucket=warehouse.netloc, Key=key, Body=buffer.getvalue())
    con = connect(cluster_s3_settings)

    confine_to_warehouse(con, cluster_s3_settings)

    assert con.execute(f"SELECT sum(n) FROM 's3://{warehouse.netloc}/warehouse/curated/t.parquet'").fetchone() == (3,)
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"SELECT * FROM 's3://{warehouse.netloc}/elsewhere/t.parquet'")


def _loaded(con: duckdb.DuckDBPyConnection, extension: str) -> bool:
    return con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [extension]).fetchone() == (
        True,
    )
