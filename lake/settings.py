"""The one settings object every Lakeforge component reads.

Values come from environment variables prefixed ``LAKEFORGE_`` (nested sections joined with ``__``, e.g.
``LAKEFORGE_CATALOG__URI``). The two profiles of ARCHITECTURE.md are wired here and nowhere else: fields left
unset are filled from the profile's defaults by :meth:`Settings._apply_profile`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lake.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: the default data home lives inside it (and is git-ignored)."""

ENV_PREFIX = "LAKEFORGE_"
NAMESPACES = ("raw", "staging", "curated", "features", "ml", "ops")
"""Iceberg namespaces, one per layer (see ARCHITECTURE.md)."""

Profile = Literal["local", "cluster"]


class CatalogSettings(BaseModel):
    """Where the Iceberg catalog and its warehouse live."""

    name: str = "lakeforge"
    """Catalog name; Trino's catalog properties use the same one."""
    uri: str | None = None
    """SQLAlchemy URI of the SqlCatalog. Default: SQLite under the data home (local) or PostgreSQL (cluster)."""
    warehouse: str | None = None
    """Root of the table files: a local path or file:// URI (local) or s3://bucket/prefix (cluster)."""
    s3_endpoint: str | None = None
    """S3-compatible endpoint (MinIO, moto), for an s3:// warehouse."""
    s3_access_key_id: str | None = None
    """S3 access key id."""
    s3_secret_access_key: SecretStr | None = None
    """S3 secret key."""
    s3_region: str = "us-east-1"
    """S3 region."""

    @field_validator("uri")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg2:// URI")
        return value

    @field_validator("warehouse")
    @classmethod
    def _known_storage(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme not in ("", "file", "s3", "s3a"):
            raise ValueError("must be a local path, a file:// URI or an s3:// URI")
        return value


class DuckDBSettings(BaseModel):
    """The DuckDB database dbt computes in."""

    path: Path | None = None
    """DuckDB database file. Default: under the data home."""
    threads: int | None = None
    """Worker threads; default: DuckDB's own choice (all cores)."""
    memory_limit: str | None = None
    """DuckDB memory limit, e.g. ``4GB``; default: DuckDB's own (80 % of RAM)."""


class FeastSettings(BaseModel):
    """Feast registry and online store."""

    project: str = "lakeforge"
    """Feast project name: keys in the registry and the online store are scoped by it."""
    registry: str | None = None
    """Registry path (local SQLite file) or SQLAlchemy URI (cluster PostgreSQL)."""
    online_store: Literal["sqlite", "redis"] | None = None
    """Online store type."""
    online_path: Path | None = None
    """SQLite online store file (local)."""
    redis_connection: str = "127.0.0.1:6379"
    """Redis connection string (cluster)."""


class RaySettings(BaseModel):
    """Where Ray runs."""

    address: str | None = None
    """``ray://host:10001`` of a cluster; unset: a local instance started on demand."""
    num_cpus: int | None = None
    """CPUs of the local instance; default: all."""


class SqlEndpointSettings(BaseModel):
    """The built-in Trino-protocol endpoint."""

    host: str = "127.0.0.1"
    """Address the endpoint binds."""
    port: int = 8080
    """Port of the endpoint (Trino's default)."""
    catalog: str = "lake"
    """Catalog name BI tools see."""
    password_file: Path | None = None
    """Trino-format password file (bcrypt); unset: authentication off (with a warning)."""
    group_file: Path | None = None
    """Trino-format group file (``group:user1,user2``)."""
    rules_file: Path | None = None
    """Trino file-based access-control rules (JSON); unset: the shipped ``deploy/trino/rules.json``."""
    query_timeout_s: float = 300.0
    """Queries running longer are cancelled."""
    client_timeout_s: float = 300.0
    """A query its client has not asked about for this long is abandoned (Trino's ``query.client.timeout``): it
    stops with ``ABANDONED_QUERY`` and its unread pages are dropped."""
    max_result_rows: int = 1_000_000
    """Queries returning more rows fail with a limit error."""


class ScoringSettings(BaseModel):
    """The Ray Serve scoring service."""

    host: str = "127.0.0.1"
    """Address the HTTP proxy binds."""
    port: int = 8000
    """Port of the HTTP proxy."""
    api_keys: list[SecretStr] = Field(default_factory=list)
    """Accepted bearer tokens; empty: authentication off (with a warning)."""


class MaintenanceSettings(BaseModel):
    """``lakeforge maintain``: snapshot retention and small-file compaction."""

    snapshot_retention_days: float = Field(default=7.0, ge=0)
    """Snapshots older than this are expired (except those a registered model points to)."""
    orphan_min_age_hours: float = Field(default=1.0, ge=0)
    """Files no snapshot references are deleted only when older than this, so a writer's uncommitted files survive."""
    small_file_mb: float = Field(default=32.0, gt=0)
    """Data files smaller than this count as small: compaction candidates."""
    target_file_mb: float = Field(default=128.0, gt=0)
    """Compaction merges small files of a partition into files of about this size (on disk)."""
    min_small_files: int = Field(default=5, ge=2)
    """A partition is compacted only when it holds at least this many small files."""


class DriftSettings(BaseModel):
    """The drift job: recent predictions against the champion's training data."""

    psi_threshold: float = Field(default=0.2, gt=0)
    """Population stability index over which a feature (or the score) counts as drifted and a retrain is due."""
    window_days: float = Field(default=7.0, gt=0)
    """Recent predictions: the champion's, with a transaction time in this many days up to the check's ``as_of``."""
    min_predictions: int = Field(default=200, ge=1)
    """With fewer recent predictions than this, drift is not judged (bin shares would be mostly noise)."""
    bins: int = Field(default=10, ge=2)
    """Quantile bins per feature in the reference profile written at training time."""


class PipelineSettings(BaseModel):
    """``lakeforge run``: one operated cycle."""

    retrain_every_days: float = 7.0
    """A retrain is due when the champion is older than this (data time), even without drift."""
    label_maturity_days: float = Field(default=7.0, ge=0)
    """Training leaves out transactions younger than this at the lake's clock: their chargebacks may still come."""
    workers: int = Field(default=2, ge=1)
    """Ray Train workers of a retrain (``lakeforge run --workers`` overrides it)."""


class Settings(BaseSettings):
    """Everything a Lakeforge process needs to know about where things are."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    profile: Profile = "local"
    """``local`` (embedded default: SQLite catalog, local files) or ``cluster`` (PostgreSQL, S3, Redis, Ray)."""
    home: Path = PROJECT_ROOT / ".lakeforge"
    """Data home: every file of the embedded profile lives below it."""
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    duckdb: DuckDBSettings = Field(default_factory=DuckDBSettings)
    feast: FeastSettings = Field(default_factory=FeastSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    sql: SqlEndpointSettings = Field(default_factory=SqlEndpointSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    @model_validator(mode="after")
    def _apply_profile(self) -> Settings:
        """Fill what the environment left unset from the profile's defaults (the only branch on profile)."""
        home = self.home = self.home.expanduser().resolve()
        catalog, duck, feast = self.catalog, self.duckdb, self.feast
        if self.profile == "local":
            catalog.uri = catalog.uri or f"sqlite:///{home / 'catalog.db'}"
            catalog.warehouse = catalog.warehouse or (home / "warehouse").as_uri()
            feast.registry = feast.registry or str(home / "feast" / "registry.db")
            feast.online_store = feast.online_store or "sqlite"
        else:
            catalog.uri = catalog.uri or "postgresql+psycopg2://postgres@127.0.0.1:5432/lakeforge"
            catalog.warehouse = catalog.warehouse or "s3://lakeforge/warehouse"
            feast.registry = feast.registry or "postgresql+psycopg2://postgres@127.0.0.1:5432/lakeforge"
            feast.online_store = feast.online_store or "redis"
        duck.path = duck.path or home / "lakeforge.duckdb"
        feast.online_path = feast.online_path or home / "feast" / "online.db"
        return self

    @property
    def landing_dir(self) -> Path:
        """Where new landing files wait to be ingested."""
        return self.home / "landing"

    @property
    def warehouse_is_local(self) -> bool:
        """True when table files live on the local file system."""
        return urlparse(self.catalog.warehouse or "").scheme in ("", "file")

    def catalog_properties(self) -> dict[str, str]:
        """Properties for pyiceberg's ``SqlCatalog`` (and the same values Trino's catalog file carries)."""
        catalog = self.catalog
        props = {"uri": str(catalog.uri), "warehouse": str(catalog.warehouse)}
        if not self.warehouse_is_local:
            props["s3.region"] = catalog.s3_region
            if catalog.s3_endpoint:
                props["s3.endpoint"] = catalog.s3_endpoint
            if catalog.s3_access_key_id:
                props["s3.access-key-id"] = catalog.s3_access_key_id
            if catalog.s3_secret_access_key:
                props["s3.secret-access-key"] = catalog.s3_secret_access_key.get_secret_value()
        return props

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets and URI passwords replaced by ``****``."""
        return _mask(self.model_dump(mode="json"))


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str):
        if value == "**********":
            return "****"
        parsed = urlparse(value)
        if parsed.password:
            return value.replace(f":{parsed.password}@", ":****@")
    return value


def _variable_name(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in location if not isinstance(part, int))


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment, failing with the name of the variable that was wrong.

    Args:
        overrides: field values that win over the environment (tests and the CLI use them).

    Raises:
        ConfigError: a variable has a value the settings cannot accept.
    """
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{_variable_name(item['loc'])}={item.get('input')!r}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"invalid Lakeforge settings: {problems}") from None


@lru_cache(maxsize=1)
def _cached(environment: frozenset[tuple[str, str]]) -> Settings:
    return load_settings()


def get_settings() -> Settings:
    """The settings of this process, read once per distinct ``LAKEFORGE_*`` environment."""
    return _cached(frozenset(_settings_variables(os.environ).items()))


def _settings_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``LAKEFORGE_*`` variables of ``environ`` (a copy)."""
    return {name: value for name, value in environ.items() if name.startswith(ENV_PREFIX)}


def without_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's environment) less every ``LAKEFORGE_*`` variable: a child process given
    it reads only the settings then added to it, none of the machine's."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items() if not name.startswith(ENV_PREFIX)}


@contextmanager
def data_home(home: Path) -> Iterator[Settings]:
    """This process's settings become those of the data home ``home`` for the block (benchmarks, scratch runs).

    Every ``LAKEFORGE_*`` variable is set aside and ``LAKEFORGE_HOME`` is ``home``, so nothing of the machine's
    profile leaks in; child processes inherit the same. Afterwards the variables are exactly as before, whatever
    the block set (e.g. the Feast variables of :mod:`lake.feast.environment`).
    """
    with settings_variables_kept():
        _clear_settings_variables()
        os.environ[f"{ENV_PREFIX}HOME"] = str(home)
        yield load_settings()


@contextmanager
def settings_variables_kept() -> Iterator[None]:
    """The ``LAKEFORGE_*`` variables are put back exactly as they were after the block, whatever it set or removed."""
    saved = _settings_variables(os.environ)
    try:
        yield
    finally:
        _clear_settings_variables()
        os.environ.update(saved)


def _clear_settings_variables() -> None:
    for name in _settings_variables(os.environ):
        del os.environ[name]
