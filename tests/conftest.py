"""Shared fixtures: an isolated data home per test, and a dedicated PostgreSQL database per test run.

Server-backed fixtures fail loudly when the server cannot be reached: a missing PostgreSQL or Redis is a
broken machine, not a reason to skip.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from lake.catalog import load_catalog
from lake.settings import ENV_PREFIX, Settings, get_settings, settings_variables_kept

POSTGRES_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def isolate_environment(patch: pytest.MonkeyPatch, home: Path | None = None) -> None:
    """No machine ``LAKEFORGE_*`` variable leaks into the settings; the data home is ``home`` when given."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            patch.delenv(name)
    if home is not None:
        patch.setenv("LAKEFORGE_HOME", str(home))


@contextmanager
def clean_environment(home: Path | None = None) -> Iterator[pytest.MonkeyPatch]:
    """:func:`isolate_environment` for module- and session-scoped fixtures; yields the patch so a fixture can set
    more variables."""
    with pytest.MonkeyPatch.context() as patch:
        isolate_environment(patch, home)
        yield patch


@pytest.fixture(autouse=True)
def keep_lakeforge_variables() -> Iterator[None]:
    """Put ``LAKEFORGE_*`` back as each test found them: exporting Feast's environment
    (``lake.feast.environment``) sets ``LAKEFORGE_FEAST_*`` for the whole process, outside any monkeypatch."""
    with settings_variables_kept():
        yield


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded-profile settings whose data home is this test's temporary folder."""
    isolate_environment(monkeypatch, tmp_path / "home")
    return get_settings()


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    """The embedded SQLite catalog under the test's data home."""
    return load_catalog(settings)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray instance for the whole test session (2 CPUs, started as the embedded profile starts it; the
    workers' output stays in their log files), shut down at the end."""
    import ray

    from models.local_ray import start_local_ray

    start_local_ray(num_cpus=2, log_to_driver=False)
    yield
    ray.shutdown()


def _admin_connection() -> psycopg2.extensions.connection:
    try:
        connection = psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=5)
    except psycopg2.OperationalError as error:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for cluster-profile tests: {error}")
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end; yields its SQLAlchemy URI."""
    name = f"lakeforge_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


@pytest.fixture
def cluster_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_database: str, settings: Settings
) -> Settings:
    """Cluster-profile settings: PostgreSQL catalog (a per-test namespace-free catalog name), local warehouse."""
    monkeypatch.setenv("LAKEFORGE_PROFILE", "cluster")
    monkeypatch.setenv("LAKEFORGE_CATALOG__URI", postgres_database)
    monkeypatch.setenv("LAKEFORGE_CATALOG__NAME", f"test_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("LAKEFORGE_CATALOG__WAREHOUSE", (tmp_path / "warehouse").as_uri())
    return get_settings()


@pytest.fixture
def cluster_catalog(cluster_settings: Settings) -> Catalog:
    """The PostgreSQL SqlCatalog of the cluster profile, isolated by catalog name."""
    return load_catalog(cluster_settings)


S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY = "lakeforge-test", "lakeforge-test-secret"
"""Dummy keys the S3 test server accepts (it checks none); set so every client signs its requests as in production."""


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto's server mode) on 127.0.0.1 for the whole session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client of the test server (for assertions on what landed in the bucket)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ACCESS_KEY_ID,
        aws_secret_access_key=S3_SECRET_ACCESS_KEY,
        region_name="us-east-1",
    )


@pytest.fixture
def cluster_s3_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_database: str, s3_endpoint: str, settings: Settings
) -> Iterator[Settings]:
    """The whole cluster profile: PostgreSQL catalog and Feast registry, Redis online store, S3 warehouse.

    Each test gets its own bucket (warehouse ``s3://<bucket>/warehouse``), catalog name and Feast project; the
    Redis keys of that project are deleted afterwards.
    """
    import redis

    online = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=5)
    try:
        online.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis on 127.0.0.1:6379 is required for cluster-profile tests: {error}")
    suffix = uuid.uuid4().hex[:10]
    bucket, project = f"lakeforge-{suffix}", f"test_{suffix}"
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    variables = {
        "PROFILE": "cluster",
        "CATALOG__URI": postgres_database,
        "CATALOG__NAME": project,
        "CATALOG__WAREHOUSE": f"s3://{bucket}/warehouse",
        "CATALOG__S3_ENDPOINT": s3_endpoint,
        "CATALOG__S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
        "CATALOG__S3_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
        "CATALOG__S3_REGION": "us-east-1",
        "FEAST__REGISTRY": postgres_database,
        "FEAST__ONLINE_STORE": "redis",
        "FEAST__REDIS_CONNECTION": "127.0.0.1:6379",
        "FEAST__PROJECT": project,
    }
    for name, value in variables.items():
        monkeypatch.setenv(f"LAKEFORGE_{name}", value)
    yield get_settings()
    keys = list(online.scan_iter(match=b"*" + project.encode()))
    if keys:
        online.delete(*keys)
    online.close()


def arrow_query(rows: pa.Table) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A DuckDB connection and a query over ``rows``: what the lake's writes take."""
    connection = duckdb.connect()
    connection.register("arrow_rows", rows)
    return connection, "SELECT * FROM arrow_rows"
