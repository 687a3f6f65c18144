"""The model registry in the lake: versions in ``ml.model_versions``, aliases in ``ml.model_aliases``, files
under the warehouse.

Training (:mod:`models.train`) writes versions; scoring reads the ``champion`` alias and loads its booster.
Each version's files (``model.json`` in XGBoost's JSON format, ``report.md``, the plots) live in one folder,
``<warehouse>/ml.db/model_artifacts/v<N>``, written through pyiceberg's FileIO so the same code serves a local
warehouse and an ``s3://`` one. Aliases are an append-only log: the latest row of an alias names its version
(``None`` once cleared), so every promotion stays on record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import xgboost
from pyiceberg.catalog import Catalog
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from lake.appends import append_rows
from lake.catalog import create_lake_table, load_catalog
from lake.errors import ModelsError
from lake.settings import Settings, get_settings

FEATURE_SERVICE = "fraud_model_v1"
"""The Feast feature service the fraud model is trained and served through."""
VERSIONS_TABLE = "ml.model_versions"
ALIASES_TABLE = "ml.model_aliases"
ALIASES = ("champion", "challenger")
"""Aliases a version can carry."""
MODEL_FILE = "model.json"
"""The booster, in XGBoost's JSON format."""

_VERSIONS_SCHEMA = Schema(
    NestedField(1, "version", LongType(), required=True),
    NestedField(2, "created_at", TimestamptzType(), required=True),
    NestedField(3, "feature_service", StringType(), required=True),
    NestedField(4, "features", StringType(), required=True),
    NestedField(5, "artifact_uri", StringType(), required=True),
    NestedField(6, "thresholds", StringType(), required=True),
    NestedField(7, "metrics", StringType(), required=True),
    NestedField(8, "params", StringType(), required=True),
    NestedField(9, "lineage", StringType(), required=True),
    identifier_field_ids=[1],
)
"""Lists and mappings are stored as JSON text: readable from SQL (``json_extract``) and schema-stable."""
_JSON_COLUMNS = ("features", "thresholds", "metrics", "params", "lineage")
_ALIASES_SCHEMA = Schema(
    NestedField(1, "alias", StringType(), required=True),
    NestedField(2, "version", LongType(), required=False),
    NestedField(3, "updated_at", TimestamptzType(), required=True),
)


@dataclass
class ModelVersion:
    """One registered model: what it reads, where its files are, how it decides, how it was made.

    Attributes:
        version: 1, 2, ... in registration order.
        created_at: registration time (UTC).
        feature_service: the Feast feature service its inputs come from.
        features: the model's input columns, in order, as Feast returns them with ``full_feature_names=False``.
        artifact_uri: folder holding ``model.json``, ``report.md`` and the plots.
        thresholds: probability cut-offs ``{"review": p1, "decline": p2}``.
        metrics: test-period metrics (``pr_auc``, ``roc_auc``, ...).
        params: training parameters.
        lineage: snapshot id per table read, row count, content hash, dbt manifest hash, git commit, versions.
        aliases: aliases currently pointing at this version.
    """

    version: int
    created_at: datetime
    feature_service: str
    features: list[str]
    artifact_uri: str
    thresholds: dict[str, float]
    metrics: dict[str, float]
    params: dict[str, Any]
    lineage: dict[str, Any]
    aliases: list[str] = field(default_factory=list)

    def decide(self, probability: float) -> str:
        """``decline`` at or above the decline cut-off, ``review`` at or above the review one, else ``approve``."""
        if probability >= self.thresholds["decline"]:
            return "decline"
        if probability >= self.thresholds["review"]:
            return "review"
        return "approve"

    def artifact(self, name: str) -> str:
        """URI of one of this version's files (``model.json``, ``report.md``, a plot)."""
        return f"{self.artifact_uri}/{name}"


def _tables(settings: Settings) -> tuple[Table, Table]:
    catalog: Catalog = load_catalog(settings)
    versions = create_lake_table(catalog, VERSIONS_TABLE, _VERSIONS_SCHEMA)
    aliases = create_lake_table(catalog, ALIASES_TABLE, _ALIASES_SCHEMA)
    return versions, aliases


def _file_io(settings: Settings) -> FileIO:
    return load_file_io(settings.catalog_properties(), str(settings.catalog.warehouse))


def _artifact_root(settings: Settings, version: int) -> str:
    return f"{str(settings.catalog.warehouse).rstrip('/')}/ml.db/model_artifacts/v{version}"


def _check_thresholds(thresholds: dict[str, float]) -> None:
    if set(thresholds) != {"review", "decline"}:
        raise ModelsError(f"thresholds must have exactly the keys 'review' and 'decline'; got {sorted(thresholds)}")
    if not 0.0 <= thresholds["review"] <= thresholds["decline"] <= 1.0:
        raise ModelsError(f"thresholds need 0 <= review <= decline <= 1; got {thresholds}")


def _check_features(booster: xgboost.Booster, features: list[str]) -> None:
    if not features or len(set(features)) != len(features):
        raise ModelsError(f"features must be a non-empty list of distinct column names; got {features}")
    if booster.num_features() != len(features):
        raise ModelsError(f"the booster takes {booster.num_features()} inputs but {len(features)} features were named")
    if booster.feature_names is not None and list(booster.feature_names) != features:
        raise ModelsError(f"the booster's feature names {booster.feature_names} differ from the features {features}")


def _alias_log(aliases: Table) -> dict[str, int | None]:
    """The version each alias points at now (the latest row per alias)."""
    rows = aliases.scan().to_arrow().sort_by([("updated_at", "ascending")]).to_pylist()
    return {row["alias"]: row["version"] for row in rows}


def _aliases_by_version(aliases: Table) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for alias, version in sorted(_alias_log(aliases).items()):
        if version is not None:
            by_version.setdefault(version, []).append(alias)
    return by_version


def _model_version(row: dict[str, Any], aliases: dict[int, list[str]]) -> ModelVersion:
    values = {name: json.loads(row[name]) if name in _JSON_COLUMNS else row[name] for name in row}
    return ModelVersion(**values, aliases=aliases.get(row["version"], []))


def write_artifact(settings: Settings, artifact_uri: str, name: str, content: bytes) -> str:
    """Write one file into a version's artifact folder (local or object storage); returns its URI."""
    uri = f"{artifact_uri}/{name}"
    with _file_io(settings).new_output(uri).create(overwrite=True) as stream:
        stream.write(content)
    return uri


def read_artifact(mv: ModelVersion, name: str, settings: Settings | None = None) -> bytes:
    """The bytes of one of a version's files.

    Raises:
        ModelsError: the version has no such file.
    """
    settings = settings or get_settings()
    source = _file_io(settings).new_input(mv.artifact(name))
    if not source.exists():
        raise ModelsError(f"model version {mv.version} has no file {name!r} under {mv.artifact_uri}")
    with source.open() as stream:
        return stream.read()


def register_model_version(
    booster: xgboost.Booster,
    features: list[str],
    thresholds: dict[str, float],
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    artifacts_dir: Path | None = None,
    feature_service: str = FEATURE_SERVICE,
    settings: Settings | None = None,
) -> ModelVersion:
    """Write a new model version: its files under the warehouse, then its row in ``ml.model_versions``.

    The version gets no alias; :func:`promote_model_version` gives it one.

    Args:
        booster: the trained model; saved as ``model.json``.
        features: its input columns, in the order the booster takes them.
        thresholds: ``{"review": p1, "decline": p2}`` with ``0 <= p1 <= p2 <= 1``.
        metrics: test-period metrics.
        params: training parameters.
        lineage: what the model was built from (see :class:`ModelVersion`).
        artifacts_dir: a folder whose files (report, plots) are copied next to the model.
        feature_service: the Feast feature service of its inputs.
        settings: settings to use; default: the process settings.

    Returns:
        The registered version.

    Raises:
        ModelsError: the features do not match the booster, or the thresholds are out of order.
    """
    settings = settings or get_settings()
    _check_features(booster, features)
    _check_thresholds(thresholds)
    versions, _ = _tables(settings)
    existing = versions.scan(selected_fields=("version",)).to_arrow().column("version")
    version = int(pa.compute.max(existing).as_py() or 0) + 1
    artifact_uri = _artifact_root(settings, version)
    if artifacts_dir is not None:
        for path in sorted(artifacts_dir.iterdir()):
            if path.is_file() and path.name != MODEL_FILE:
                write_artifact(settings, artifact_uri, path.name, path.read_bytes())
    write_artifact(settings, artifact_uri, MODEL_FILE, bytes(booster.save_raw(raw_format="json")))
    mv = ModelVersion(
        version=version,
        created_at=datetime.now(UTC),
        feature_service=feature_service,
        features=list(features),
        artifact_uri=artifact_uri,
        thresholds={key: float(value) for key, value in thresholds.items()},
        metrics={key: float(value) for key, value in (metrics or {}).items()},
        params=dict(params or {}),
        lineage=dict(lineage or {}),
    )
    row = {name: getattr(mv, name) for name in _VERSIONS_SCHEMA.column_names}
    row.update({name: json.dumps(row[name], sort_keys=name != "features", default=str) for name in _JSON_COLUMNS})
    append_rows(versions, [row])
    return mv


def resolve_alias(alias: str, settings: Settings | None = None) -> int | None:
    """The version an alias points at now, or ``None`` (cheap: reads only the small alias table).

    Raises:
        ModelsError: the alias is not one of :data:`ALIASES`.
    """
    if alias not in ALIASES:
        raise ModelsError(f"unknown alias {alias!r}; use one of {', '.join(ALIASES)}")
    _, aliases = _tables(settings or get_settings())
    return _alias_log(aliases).get(alias)


def get_model_version(
    version: int | None = None, alias: str | None = "champion", settings: Settings | None = None
) -> ModelVersion:
    """One model version, by number or (when ``version`` is None) by alias.

    Args:
        version: the version number; wins over ``alias``.
        alias: ``champion`` or ``challenger``.
        settings: settings to use; default: the process settings.

    Raises:
        ModelsError: no such version, or the alias points at none.
    """
    settings = settings or get_settings()
    versions, aliases = _tables(settings)
    if version is None:
        if alias is None:
            raise ModelsError("pass a version number or an alias (champion, challenger)")
        version = resolve_alias(alias, settings)
        if version is None:
            raise ModelsError(f"no model version is {alias} yet; train one with `lakeforge train`")
    rows = versions.scan(row_filter=f"version = {int(version)}").to_arrow().to_pylist()
    if not rows:
        known = ", ".join(str(mv.version) for mv in list_model_versions(settings)) or "none yet"
        raise ModelsError(f"no model version {version} (versions: {known})")
    return _model_version(rows[0], _aliases_by_version(aliases))


def list_model_versions(settings: Settings | None = None) -> list[ModelVersion]:
    """Every registered version, oldest first, with its current aliases."""
    versions, aliases = _tables(settings or get_settings())
    by_version = _aliases_by_version(aliases)
    rows = versions.scan().to_arrow().sort_by("version").to_pylist()
    return [_model_version(row, by_version) for row in rows]


def registered_snapshots(settings: Settings | None = None) -> dict[str, set[int]]:
    """The snapshots registered versions were trained on, ``{table: {snapshot ids}}``, from their lineage.

    Table maintenance keeps these whatever their age, so every version's training set can still be rebuilt.
    Reads only; an empty lake (no registry table yet) has none.
    """
    catalog = load_catalog(settings or get_settings())
    if not catalog.table_exists(VERSIONS_TABLE):
        return {}
    lineages = catalog.load_table(VERSIONS_TABLE).scan(selected_fields=("lineage",)).to_arrow().column("lineage")
    pinned: dict[str, set[int]] = {}
    for lineage in lineages.to_pylist():
        for table, snapshot_id in json.loads(lineage).get("snapshots", {}).items():
            pinned.setdefault(table, set()).add(int(snapshot_id))
    return pinned


def promote_model_version(version: int, alias: str = "champion", settings: Settings | None = None) -> ModelVersion:
    """Point ``alias`` at ``version`` (written to ``ml.model_aliases``).

    A version promoted to champion stops being challenger if it was one.

    Args:
        version: the version to promote.
        alias: ``champion`` or ``challenger``.
        settings: settings to use; default: the process settings.

    Returns:
        The version with its new aliases.

    Raises:
        ModelsError: unknown alias or version.
    """
    settings = settings or get_settings()
    if alias not in ALIASES:
        raise ModelsError(f"unknown alias {alias!r}; use one of {', '.join(ALIASES)}")
    get_model_version(version, settings=settings)
    _, aliases = _tables(settings)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [{"alias": alias, "version": int(version), "updated_at": now}]
    if alias == "champion" and _alias_log(aliases).get("challenger") == version:
        rows.append({"alias": "challenger", "version": None, "updated_at": now})
    append_rows(aliases, rows)
    return get_model_version(version, settings=settings)


def load_booster(mv: ModelVersion, settings: Settings | None = None) -> xgboost.Booster:
    """The version's XGBoost booster, read from its ``model.json``.

    Raises:
        ModelsError: the model file is missing.
    """
    booster = xgboost.Booster()
    booster.load_model(bytearray(read_artifact(mv, MODEL_FILE, settings)))
    booster.feature_names = list(mv.features)
    return booster
