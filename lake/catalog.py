"""Hands out the pyiceberg catalog of the active profile, with the layer namespaces in place."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update import TableUpdate, update_table_metadata
from pyiceberg.table.update.snapshot import ManageSnapshots, _MergeAppendFiles, _OverwriteFiles
from pyiceberg.utils.properties import property_as_bool, property_as_int
from sqlalchemy.exc import OperationalError

from lake.errors import CatalogError
from lake.settings import NAMESPACES, Settings, get_settings

MERGED_MANIFESTS = {TableProperties.MANIFEST_MERGE_ENABLED: "true"}
"""Set on every table the lake creates (raw, quarantine and model tables, and the run, prediction, query, drift and
registry logs), which are appended to with ``merge_append`` and overwritten with :func:`merging_overwrite`: each
commit adds a manifest and every scan plan reads them all, so once a table holds
``commit.manifest.min-count-to-merge`` of them (100 by default) a commit merges them, as Iceberg's own writers do.
pyiceberg leaves merging off by default."""


class LakeTransaction(Transaction):
    """pyiceberg's transaction, working out its metadata once per staged change instead of on every read.

    pyiceberg 0.12 re-applies the staged updates to a deep copy of the table's metadata each time
    ``table_metadata`` is read, dozens of times per commit, and the copy grows with the table's snapshot history
    (apache/iceberg-python#3302 and #3784 cache it the same way; not released yet). The result is kept while the
    table's metadata and the staged updates are the same objects: pyiceberg replaces both, never changes them.
    """

    _metadata_cache: tuple[TableMetadata, tuple[TableUpdate, ...], TableMetadata] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        cache = self._metadata_cache
        if cache is None or cache[0] is not self._table.metadata or cache[1] is not self._updates:
            cache = (self._table.metadata, self._updates, update_table_metadata(self._table.metadata, self._updates))
            self._metadata_cache = cache
        return cache[2]


def manage_snapshots(table: Table) -> ManageSnapshots:
    """``table.manage_snapshots()`` on a :class:`LakeTransaction`: branch and snapshot changes, committed at once."""
    return ManageSnapshots(LakeTransaction(table, autocommit=True))


class _MergingOverwriteFiles(_OverwriteFiles):
    """pyiceberg's overwrite (its deletes, concurrency checks and summary) merging manifests as its merge append
    does, with the same table properties. Only the merging is borrowed: inheriting the append producer would also
    take its concurrency check, which lets a stale overwrite through."""

    _process_manifests = _MergeAppendFiles._process_manifests

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        properties = self._transaction.table_metadata.properties
        self._target_size_bytes = property_as_int(
            properties, TableProperties.MANIFEST_TARGET_SIZE_BYTES, TableProperties.MANIFEST_TARGET_SIZE_BYTES_DEFAULT
        )
        self._min_count_to_merge = property_as_int(
            properties, TableProperties.MANIFEST_MIN_MERGE_COUNT, TableProperties.MANIFEST_MIN_MERGE_COUNT_DEFAULT
        )
        self._merge_enabled = property_as_bool(
            properties, TableProperties.MANIFEST_MERGE_ENABLED, TableProperties.MANIFEST_MERGE_ENABLED_DEFAULT
        )

    def _existing_manifests(self) -> list[ManifestFile]:
        """The parent's manifests this overwrite keeps, less those left holding only files an earlier snapshot
        deleted: pyiceberg's overwrite carries them into every later snapshot (one more per full replace, read by
        every write and scan plan until a merge), where its append and Iceberg's Java writers drop them."""
        return [
            manifest
            for manifest in super()._existing_manifests()
            if manifest.has_added_files()
            or manifest.has_existing_files()
            or manifest.added_snapshot_id == self._snapshot_id
        ]


def merging_overwrite(transaction: Transaction, io: FileIO, properties: dict[str, str], branch: str) -> _OverwriteFiles:
    """An overwrite of ``branch`` that merges manifests like ``merge_append`` (see :data:`MERGED_MANIFESTS`) and,
    like it, keeps only the parent's manifests that still list live files.

    pyiceberg merges on appends only, so a table rewritten by partition every day gained a manifest per write,
    which every later write and scan plan reads again (Iceberg's Java writers merge on overwrites too).
    """
    operation = Operation.OVERWRITE if transaction.table_metadata.snapshot_by_name(branch) else Operation.APPEND
    return _MergingOverwriteFiles(
        operation=operation, transaction=transaction, io=io, branch=branch, snapshot_properties=properties
    )


def create_lake_table(
    catalog: Catalog,
    name: str,
    schema: Schema,
    partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
    properties: Mapping[str, str] = MERGED_MANIFESTS,
) -> Table:
    """Load ``name``, creating it first if it does not exist (safe under races), with :data:`MERGED_MANIFESTS` unless
    ``properties`` (which should include them) says otherwise.

    An existing table is loaded before any create is tried: pyiceberg's ``create_table_if_not_exists`` writes a new
    metadata file before it learns that the table exists, which left an unreferenced file on every call.
    """
    try:
        return catalog.load_table(name)
    except NoSuchTableError:
        return catalog.create_table_if_not_exists(
            name, schema=schema, partition_spec=partition_spec, properties=dict(properties)
        )


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
