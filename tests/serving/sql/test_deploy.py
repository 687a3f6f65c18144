"""The real-Trino files in ``deploy/trino`` agree with the cluster profile and with the shipped governance."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from lake.settings import PROJECT_ROOT, Settings, load_settings
from serving.sql.auth import Authenticator, load_group_file, load_password_file
from serving.sql.rules import Identity, load_rules
from tests.conftest import clean_environment

DEPLOY = PROJECT_ROOT / "deploy" / "trino"


@pytest.fixture(scope="module")
def cluster() -> Settings:
    with clean_environment():
        return load_settings(profile="cluster")


def _properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_catalog_properties_read_the_cluster_catalog_and_warehouse(cluster: Settings) -> None:
    properties = _properties(DEPLOY / "catalog" / f"{cluster.sql.catalog}.properties")
    assert properties["connector.name"] == "iceberg"
    assert properties["iceberg.catalog.type"] == "jdbc"
    assert properties["iceberg.jdbc-catalog.catalog-name"] == cluster.catalog.name
    assert properties["iceberg.jdbc-catalog.default-warehouse-dir"] == cluster.catalog.warehouse
    assert properties["s3.region"] == cluster.catalog.s3_region
    jdbc = urlparse(properties["iceberg.jdbc-catalog.connection-url"].removeprefix("jdbc:"))
    settings_uri = urlparse(str(cluster.catalog.uri))
    assert (jdbc.scheme, jdbc.port, jdbc.path) == ("postgresql", settings_uri.port, settings_uri.path)
    assert properties["iceberg.jdbc-catalog.connection-user"] == settings_uri.username


def test_compose_wires_the_same_catalog_into_every_service(cluster: Settings) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    services = compose["services"]
    assert {"trino", "postgres", "minio", "redis", "ray-head", "ray-worker", "lakeforge-sql"} <= set(services)
    environment = services["lakeforge-sql"]["environment"]
    assert environment["LAKEFORGE_PROFILE"] == "cluster"
    assert environment["LAKEFORGE_CATALOG__NAME"] == cluster.catalog.name
    assert environment["LAKEFORGE_CATALOG__WAREHOUSE"] == cluster.catalog.warehouse
    assert urlparse(environment["LAKEFORGE_CATALOG__URI"]).path == urlparse(str(cluster.catalog.uri)).path
    assert environment["LAKEFORGE_SQL__CATALOG"] == cluster.sql.catalog
    assert services["postgres"]["environment"]["POSTGRES_DB"] == urlparse(str(cluster.catalog.uri)).path.strip("/")
    mounts = {volume.split(":")[1] for volume in services["trino"]["volumes"]}
    configured = {
        _properties(DEPLOY / "etc" / "access-control.properties")["security.config-file"],
        _properties(DEPLOY / "etc" / "password-authenticator.properties")["file.password-file"],
        _properties(DEPLOY / "etc" / "group-provider.properties")["file.group-file"],
    }
    assert configured <= mounts
    for setting in ("RULES_FILE", "PASSWORD_FILE", "GROUP_FILE"):
        assert (PROJECT_ROOT / environment[f"LAKEFORGE_SQL__{setting}"].removeprefix("/lakeforge/")).is_file()


def test_shipped_governance_files_load_and_mean_what_the_readme_says() -> None:
    rules = load_rules(DEPLOY / "rules.json")
    groups = load_group_file(DEPLOY / "group.txt")
    analyst = Identity("analyst", groups["analyst"])
    ml = Identity("ml_engineer", groups["ml_engineer"])
    assert not rules.table_policy(analyst, "lake", "raw", "customers").can_select
    curated = rules.table_policy(analyst, "lake", "curated", "customers")
    assert curated.can_select and {"full_name", "email", "card_number"} <= set(curated.masks)
    assert rules.table_policy(ml, "lake", "features", "card_features").can_select
    assert rules.table_policy(ml, "lake", "ml", "models").can_select
    assert not rules.table_policy(analyst, "lake", "ml", "models").can_select
    audit = rules.table_policy(Identity("anyone"), "lake", "ops", "query_log")
    assert audit.can_select and audit.row_filter is not None
    authenticator = Authenticator(load_password_file(DEPLOY / "password.db"), groups)
    assert authenticator.identify("Basic " + base64.b64encode(b"analyst:analyst-demo").decode(), None) == analyst
