"""Lakeforge's Feast online stores: Feast's SQLite and Redis stores, with reads that do only the work asked of them.

The tables and keys are Feast's own (materialization writes them as the stock stores do, and a stock store reads
them back); what changes is the read. For 100 entities of a 50-feature service that has an on-demand view, most
of a stock read was not the store: Feast converted the whole response to Python values (5,000 of them) to hand
the on-demand function the few inputs it declares, and the SQLite store turned each of its 4,000 rows' timestamp
into a datetime where one per entity is used. Select them in ``feature_store.yaml``::

    online_store:
      type: lake.feast.online_store.LakeSqliteOnlineStore   # or LakeRedisOnlineStore
      path: ...                                             # the stock store's settings otherwise
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from feast import FeatureService, utils
from feast.feature_view import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.online_response import OnlineResponse
from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import RepeatedValue
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig

EntityRows = list[dict[str, Any]] | Mapping[str, Sequence[Any] | Sequence[ValueProto] | RepeatedValue]


class OnDemandInputsOnly(OnlineStore):
    """Runs on-demand views on the inputs they declare instead of on a Python copy of the whole response."""

    def get_online_features(
        self,
        config: RepoConfig,
        features: list[str] | FeatureService,
        entity_rows: EntityRows,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> OnlineResponse:
        """The stock method's steps (prepare the entities, read each view, transform, drop helper columns), with
        :func:`transform_on_declared_inputs` as the transform. A service whose vectors Feast pre-computes takes
        the stock method, which serves it without on-demand views."""
        if getattr(features, "precompute_online", False):
            return super().get_online_features(
                config,
                features,
                entity_rows,
                registry,
                project,
                full_feature_names,
                include_feature_view_version_metadata,
            )
        (
            join_key_values,
            grouped_refs,
            entity_name_to_join_key_map,
            on_demand_views,
            feature_refs,
            requested_result_row_names,
            response,
        ) = utils._prepare_entities_to_read_from_online_store(
            registry=registry,
            project=project,
            features=features,
            entity_values=_columnar(entity_rows),
            full_feature_names=full_feature_names,
            native_entity_values=True,
        )
        given_columns = len(response.metadata.feature_names.val)
        self._check_versioned_read_support(grouped_refs)
        self._read_features_per_fv(
            config,
            grouped_refs,
            join_key_values,
            entity_name_to_join_key_map,
            response,
            full_feature_names,
            include_feature_view_version_metadata,
        )
        feature_types = self._build_feature_types(grouped_refs)
        if on_demand_views:
            transform_on_declared_inputs(
                response, given_columns, feature_refs, on_demand_views, full_feature_names, feature_types
            )
        utils._drop_unneeded_columns(response, requested_result_row_names)
        return OnlineResponse(response, feature_types=feature_types)


def _columnar(entity_rows: EntityRows) -> Mapping[str, Any]:
    """Entity rows as one list per key (the form Feast's preparation takes), as the stock method does."""
    if not isinstance(entity_rows, list):
        return entity_rows
    columns: dict[str, list[Any]] = {key: [] for key in entity_rows[0]}
    for row in entity_rows:
        if row.keys() != columns.keys():
            raise ValueError("All entity_rows must have the same keys.")
        for key, value in row.items():
            columns[key].append(value)
    return columns


def transform_on_declared_inputs(
    response: GetOnlineFeaturesResponse,
    given_columns: int,
    feature_refs: list[str],
    on_demand_views: list[OnDemandFeatureView],
    full_feature_names: bool,
    feature_types: dict[str, Any],
) -> None:
    """Append the on-demand views' features to ``response``, computed by Feast from a response that holds only
    the request's own columns (the first ``given_columns``: entity keys and request data) and the source
    features the views declare; Feast's transform converts each column it is given to Python values."""
    declared = set()
    for view in on_demand_views:
        for projection in view.source_feature_view_projections.values():
            for feature in projection.features:
                declared |= {
                    feature.name,
                    f"{projection.name}__{feature.name}",
                    f"{projection.name_to_use()}__{feature.name}",
                }
    names = response.metadata.feature_names.val
    kept = [index for index, name in enumerate(names) if index < given_columns or name in declared]
    inputs = GetOnlineFeaturesResponse()
    inputs.metadata.feature_names.val.extend(names[index] for index in kept)
    inputs.results.extend(response.results[index] for index in kept)
    utils._augment_response_with_on_demand_transforms(
        inputs, feature_refs, on_demand_views, full_feature_names, feature_types=feature_types
    )
    response.metadata.feature_names.val.extend(inputs.metadata.feature_names.val[len(kept) :])
    response.results.extend(inputs.results[len(kept) :])


class LakeSqliteOnlineStoreConfig(SqliteOnlineStoreConfig):
    """``online_store`` section for :class:`LakeSqliteOnlineStore`; the stock SQLite store's settings."""

    type: Literal["lake.feast.online_store.LakeSqliteOnlineStore"] = "lake.feast.online_store.LakeSqliteOnlineStore"  # type: ignore[assignment]


class LakeSqliteOnlineStore(OnDemandInputsOnly, SqliteOnlineStore):
    """Feast's SQLite store; a read converts one timestamp per entity and reads only the requested features."""

    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, ValueProto] | None]]:
        """Each entity's features, in the order of ``entity_keys``; ``(None, None)`` for an entity not stored.

        An entity's time is that of its newest row (Feast writes all of an entity's features with one time).
        """
        version = config.entity_key_serialization_version
        keys = [serialize_entity_key(key, entity_key_serialization_version=version) for key in entity_keys]
        table_name = compute_table_id(config.project, table, config.registry.enable_online_feature_view_versioning)
        features = list(requested_features or [])
        feature_filter = f" AND feature_name IN ({','.join('?' * len(features))})" if features else ""
        # ``event_ts + 0`` has no declared type, so SQLite's converter does not make a datetime of every row
        rows = (
            self._get_conn(config)
            .execute(
                f"SELECT entity_key, feature_name, value, event_ts + 0 FROM {_quoted(table_name)} "
                f"WHERE entity_key IN ({','.join('?' * len(keys))}){feature_filter}",
                [*keys, *features],
            )
            .fetchall()
        )
        found: dict[bytes, tuple[int, dict[str, ValueProto]]] = {}
        for key, name, stored, seconds in rows:
            value = ValueProto()
            value.ParseFromString(stored)
            newest, values = found.get(key, (seconds, {}))
            values[name] = value
            found[key] = (max(newest, seconds), values)
        return [_entity_read(found.get(key)) for key in keys]


def _entity_read(
    stored: tuple[int, dict[str, ValueProto]] | None,
) -> tuple[datetime | None, dict[str, ValueProto] | None]:
    """The stock store's answer for one entity: SQLite holds the naive UTC time as local epoch seconds."""
    if stored is None:
        return None, None
    seconds, values = stored
    return datetime.fromtimestamp(seconds).replace(tzinfo=UTC), values


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class LakeRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """``online_store`` section for :class:`LakeRedisOnlineStore`; the stock Redis store's settings."""

    type: Literal["lake.feast.online_store.LakeRedisOnlineStore"] = "lake.feast.online_store.LakeRedisOnlineStore"  # type: ignore[assignment]


class LakeRedisOnlineStore(OnDemandInputsOnly, RedisOnlineStore):
    """Feast's Redis store (its reads are already one pipeline for every view)."""
