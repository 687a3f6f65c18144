"""Hands out the pyiceberg catalog of the active profile, with the layer namespaces in place."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.table import Table, TableProperties
from sqlalchemy.exc import OperationalError

from lake.errors import CatalogError
from lake.settings import NAMESPACES, Settings, get_settings

MERGED_MANIFESTS = {TableProperties.MANIFEST_MERGE_ENABLED: "true"}
"""Set on the tables ingestion and dbt models create, which they append to with ``merge_append``: each commit adds
a manifest and every scan plan reads them all, so once a table holds ``commit.manifest.min-count-to-merge`` of them
(100 by default) an append merges them, as Iceberg's own writers do. pyiceberg leaves merging off by default."""


def load_catalog(settings: Settings | None = None) -> Catalog:
    """Open the profile's SqlCatalog (SQLite or PostgreSQL) and create the layer namespaces if missing.

    Args:
        settings: settings to use; default: the process settings.

    Raises:
        CatalogError: the catalog database cannot be reached.
    """
    settings = settings or get_settings()
    props = settings.catalog_properties()
    if settings.warehouse_is_local:
        warehouse = urlparse(props["warehouse"])
        Path(warehouse.path if warehouse.scheme else props["warehouse"]).mkdir(parents=True, exist_ok=True)
    if props["uri"].startswith("sqlite:///"):
        Path(props["uri"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        catalog = SqlCatalog(settings.catalog.name, **props)
        ensure_namespaces(catalog)
    except OperationalError as error:
        raise CatalogError(
            f"cannot open the Iceberg catalog at {settings.masked()['catalog']['uri']}: {error.orig}. "
            "Check LAKEFORGE_CATALOG__URI and that the database server is running."
        ) from None
    return catalog


def ensure_namespaces(catalog: Catalog) -> None:
    """Create every layer namespace that does not exist yet (safe to call any number of times)."""
    existing = {ns[0] for ns in catalog.list_namespaces()}
    for namespace in NAMESPACES:
        if namespace not in existing:
            with suppress(NamespaceAlreadyExistsError):  # another process created it meanwhile
                catalog.create_namespace(namespace)


def load_table(catalog: Catalog, name: str) -> Table:
    """Load ``namespace.table``, raising a :class:`CatalogError` that lists what exists when it does not."""
    if "." not in name:
        raise CatalogError(f"table name {name!r} needs its namespace, e.g. raw.{name}")
    try:
        return catalog.load_table(name)
    except NoSuchTableError:
        known = ", ".join(list_table_names(catalog)) or "none yet"
        raise CatalogError(f"no table {name!r} in the catalog (tables: {known})") from None


def list_table_names(catalog: Catalog) -> list[str]:
    """Every table in every namespace, as ``namespace.table``, sorted."""
    names: list[str] = []
    for namespace in catalog.list_namespaces():
        names.extend(".".join(identifier) for identifier in catalog.list_tables(namespace))
    return sorted(names)
