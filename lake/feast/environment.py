"""The one place that turns Lakeforge settings into what ``feature_repo/feature_store.yaml`` reads.

Feast substitutes ``${VAR}`` in ``feature_store.yaml`` from the environment (``os.path.expandvars``, with no
default values), so every value the file needs is derived here from :mod:`lake.settings` and exported before
Feast loads it: by ``lakeforge features ...``, by tests, and by ``eval "$(lakeforge features env)"`` for a
shell that runs plain ``feast``. S3 keys never go into the registry: the Iceberg data sources stored there
carry the endpoint and region only, and pyiceberg (through pyarrow's S3 file system) takes the keys from the
standard AWS variables, exported here too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from feast import FeatureStore

from lake.errors import FeaturesError
from lake.settings import PROJECT_ROOT, Settings, get_settings

FEATURE_REPO = PROJECT_ROOT / "feature_repo"
"""The Feast repository of the ML engineers."""

REGISTRY_URL_VARIABLE = "LAKEFORGE_FEAST_REGISTRY_URL"
ONLINE_STORE_VARIABLE = "LAKEFORGE_FEAST_ONLINE_STORE"
PROJECT_VARIABLE = "LAKEFORGE_FEAST__PROJECT"


def registry_url(settings: Settings) -> str:
    """SQLAlchemy URL of the Feast SQL registry: a SQLite file (local) or the PostgreSQL database (cluster)."""
    registry = str(settings.feast.registry)
    return registry if "://" in registry else f"sqlite:///{Path(registry).resolve()}"


LAKE_ONLINE_STORES = {
    "sqlite": "lake.feast.online_store.LakeSqliteOnlineStore",
    "redis": "lake.feast.online_store.LakeRedisOnlineStore",
}
"""Feast ``online_store`` type of each profile store: Feast's own stores with Lakeforge's reads (see
:mod:`lake.feast.online_store`)."""


def online_store_config(settings: Settings) -> dict[str, Any]:
    """The ``online_store`` section of ``feature_store.yaml`` for the profile's online store."""
    feast = settings.feast
    if feast.online_store == "redis":
        return {"type": LAKE_ONLINE_STORES["redis"], "connection_string": feast.redis_connection}
    return {"type": LAKE_ONLINE_STORES["sqlite"], "path": str(feast.online_path)}


def feast_environment(settings: Settings | None = None) -> dict[str, str]:
    """The environment variables ``feature_store.yaml`` substitutes, computed from the settings.

    Args:
        settings: settings to use; default: the process settings.

    Returns:
        Variable name to value; the online store section is a JSON (hence YAML flow) mapping. With an S3
        warehouse and keys in the settings, ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` too.
    """
    settings = settings or get_settings()
    return {
        PROJECT_VARIABLE: settings.feast.project,
        REGISTRY_URL_VARIABLE: registry_url(settings),
        ONLINE_STORE_VARIABLE: json.dumps(online_store_config(settings)),
        **s3_credentials_environment(settings),
    }


def s3_credentials_environment(settings: Settings) -> dict[str, str]:
    """The standard AWS variables for the settings' S3 keys (none when the settings carry no keys).

    Data sources in the registry name no keys, so pyiceberg reading them finds the keys here, as any AWS SDK
    would; without keys in the settings, the SDK's own chain (instance role, ``~/.aws``) applies.
    """
    catalog = settings.catalog
    if settings.warehouse_is_local or not (catalog.s3_access_key_id and catalog.s3_secret_access_key):
        return {}
    return {
        "AWS_ACCESS_KEY_ID": catalog.s3_access_key_id,
        "AWS_SECRET_ACCESS_KEY": catalog.s3_secret_access_key.get_secret_value(),
    }


def export_feast_environment(settings: Settings | None = None) -> dict[str, str]:
    """Set :func:`feast_environment` in ``os.environ`` and create the local registry and online-store folders.

    Args:
        settings: settings to use; default: the process settings.

    Returns:
        The variables exported.
    """
    settings = settings or get_settings()
    variables = feast_environment(settings)
    os.environ.update(variables)
    if settings.feast.online_store == "sqlite":
        Path(str(settings.feast.online_path)).parent.mkdir(parents=True, exist_ok=True)
    if variables[REGISTRY_URL_VARIABLE].startswith("sqlite:///"):
        Path(variables[REGISTRY_URL_VARIABLE].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return variables


def shell_exports(settings: Settings | None = None) -> str:
    """``export NAME='value'`` lines for ``eval`` in a POSIX shell (the local folders are created too)."""
    lines = []
    for name, value in export_feast_environment(settings).items():
        quoted = value.replace("'", "'\"'\"'")
        lines.append(f"export {name}='{quoted}'")
    return "\n".join(lines)


def iceberg_source_options(settings: Settings | None = None) -> dict[str, Any]:
    """Catalog keyword arguments for Feast's ``IcebergSource`` pointing at the profile's SqlCatalog.

    The S3 keys are left out because data sources are stored in the Feast registry; readers take them from
    the settings (DuckDB) or the standard AWS variables (pyiceberg, see :func:`s3_credentials_environment`).

    Args:
        settings: settings to use; default: the process settings.
    """
    settings = settings or get_settings()
    keys = ("s3.access-key-id", "s3.secret-access-key")
    properties = {key: value for key, value in settings.catalog_properties().items() if key not in keys}
    return {
        "catalog_type": "sql",
        "catalog_name": settings.catalog.name,
        "warehouse": str(settings.catalog.warehouse),
        "catalog_properties": properties,
    }


def open_feature_store(settings: Settings | None = None, repo_path: Path = FEATURE_REPO) -> FeatureStore:
    """The Feast store of ``feature_repo/`` for the profile (its environment exported first).

    Args:
        settings: settings to use; default: the process settings.
        repo_path: the Feast repository.

    Raises:
        FeaturesError: the repository has no ``feature_store.yaml``.
    """
    if not (repo_path / "feature_store.yaml").is_file():
        raise FeaturesError(f"no feature_store.yaml in {repo_path}; point to the feature repository")
    export_feast_environment(settings)
    return FeatureStore(repo_path=str(repo_path))


def apply_feature_repo(settings: Settings | None = None, repo_path: Path = FEATURE_REPO) -> None:
    """Register the repository's entities, sources, views and services and create the online tables.

    Runs what ``feast apply`` runs, with the profile's environment exported first. The repository's modules
    are imported afresh each time, so edits and settings changes in a long-lived process are picked up.

    Args:
        settings: settings to use; default: the process settings.
        repo_path: the Feast repository.

    Raises:
        FeaturesError: Feast refused the repository, e.g. a data source's table does not exist yet.
    """
    from feast.repo_config import load_repo_config
    from feast.repo_operations import apply_total, cli_check_repo

    export_feast_environment(settings)
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").parent.resolve() == repo_path.resolve():
            del sys.modules[name]
    working_directory = Path.cwd()
    try:
        cli_check_repo(repo_path, repo_path / "feature_store.yaml")
        config = load_repo_config(repo_path, repo_path / "feature_store.yaml")
        apply_total(config, repo_path, skip_source_validation=False)
    except ValueError as error:  # what Feast raises for a source it cannot validate
        hint = (
            "; the feature views read the dbt feature tables: build them first (`lakeforge transform build`, "
            "or `dbt build` in dbt_project/)"
            if "does not exist" in str(error)
            else ""
        )
        raise FeaturesError(f"cannot apply {repo_path}: {error}{hint}") from None
    finally:
        os.chdir(working_directory)
