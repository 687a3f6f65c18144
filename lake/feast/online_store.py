"""Lakeforge's Feast online stores: Feast's SQLite and Redis stores, with reads that do only the work asked of them.

The tables and keys are Feast's own (materialization writes the stock stores' rows, and a stock store reads
them back); what changes is the read, and how the SQLite store hands its writes to SQLite. For 100 entities of a
50-feature service with an on-demand view, most of a stock read was Python bookkeeping around the store: every
stored value parsed into a message, gathered into per-entity dictionaries, copied into the response feature by
feature with a timestamp message per value; the whole response then converted to Python values (5,000 of them)
to hand the on-demand function the few inputs it declares. Here the stored bytes, which are already serialized
``Value`` messages, are laid out as each ``FeatureVector``'s wire format and parsed once, and on-demand views get
only their declared inputs. The answers are the stock stores' (tests compare the response messages). Select them
in ``feature_store.yaml``::

    online_store:
      type: lake.feast.online_store.LakeSqliteOnlineStore   # or LakeRedisOnlineStore
      path: ...                                             # the stock store's settings otherwise
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal

from feast import FeatureService, utils
from feast.feature_view import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id, compute_versioned_name, extract_text_and_num
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.online_stores.redis import RedisOnlineStore, RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import (
    SqliteOnlineStore,
    SqliteOnlineStoreConfig,
    _quote_id,
    adapt_datetime_epoch,
)
from feast.infra.registry.base_registry import BaseRegistry
from feast.infra.supported_async_methods import SupportedAsyncMethods
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.online_response import OnlineResponse
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus, GetOnlineFeaturesResponse
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import RepeatedValue
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import RepoConfig
from google.protobuf.timestamp_pb2 import Timestamp

EntityRows = list[dict[str, Any]] | Mapping[str, Sequence[Any] | Sequence[ValueProto] | RepeatedValue]
StoredEntity = tuple[bytes, dict[str, bytes]]
"""One entity's row of a view as stored: its serialized ``Timestamp``, and each feature's serialized ``Value``. A
feature missing from the dictionary is answered NOT_FOUND; an entity that is not stored is ``None``."""
ViewRead = tuple[FeatureView, list[EntityKeyProto], list[str]]
"""A view, the unique entity keys to read from it, the features asked of it."""

VALUES, STATUSES, TIMESTAMPS = b"\x0a", b"\x12", b"\x1a"
"""Field tags (number and wire type) of ``FeatureVector``'s values, packed statuses and event timestamps."""
EMPTY_VALUE, EMPTY_TIMESTAMP = VALUES + b"\x00", TIMESTAMPS + b"\x00"
PRESENT, NOT_FOUND = int(FieldStatus.PRESENT), int(FieldStatus.NOT_FOUND)


class LakeOnlineReads(OnlineStore):
    """The read path of both stores; each store supplies :meth:`read_stored`."""

    @abstractmethod
    def read_stored(self, config: RepoConfig, reads: list[ViewRead]) -> list[list[StoredEntity | None]]:
        """For each read, each entity's stored row (in the order of its keys)."""

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

    def _read_features_per_fv(
        self,
        config: RepoConfig,
        grouped_refs: list[tuple[FeatureView, list[str]]],
        join_key_values: dict[str, list[ValueProto]],
        entity_name_to_join_key_map: dict[str, str],
        online_features_response: GetOnlineFeaturesResponse,
        full_feature_names: bool,
        include_feature_view_version_metadata: bool,
    ) -> None:
        """Every view's features appended to the response, as the stock stores append them. Asked for the views'
        version metadata too, the stock path answers."""
        if include_feature_view_version_metadata:
            super()._read_features_per_fv(
                config,
                grouped_refs,
                join_key_values,
                entity_name_to_join_key_map,
                online_features_response,
                full_feature_names,
                include_feature_view_version_metadata,
            )
            return
        reads, layouts = [], []
        for table, features in grouped_refs:
            entity_values, indexes, output_len = utils._get_unique_entities(
                table, join_key_values, entity_name_to_join_key_map
            )
            reads.append((table, utils._get_entity_key_protos(entity_values), features))
            layouts.append((indexes, output_len))
        for (table, _, features), stored, (indexes, output_len) in zip(
            reads, self.read_stored(config, reads), layouts, strict=True
        ):
            prefix = f"{table.projection.name_to_use()}__" if full_feature_names else ""
            online_features_response.metadata.feature_names.val.extend(prefix + name for name in features)
            rows: list[StoredEntity | None] = [None] * output_len
            for entity, positions in zip(stored, indexes, strict=True):
                for position in positions:
                    rows[position] = entity
            append_feature_vectors(online_features_response, features, rows)


def append_feature_vectors(
    response: GetOnlineFeaturesResponse, features: list[str], rows: list[StoredEntity | None]
) -> None:
    """One ``FeatureVector`` per feature, built from its wire format: each row's stored value as is (an empty
    value where the row has none), PRESENT or NOT_FOUND, and the row's timestamp (empty without a row)."""
    timestamps = b"".join(
        EMPTY_TIMESTAMP if row is None else TIMESTAMPS + LENGTHS[len(row[0])] + row[0] for row in rows
    )
    status_header = STATUSES + LENGTHS[len(rows)]
    for feature in features:
        values = [None if row is None else row[1].get(feature) for row in rows]
        statuses = bytes(NOT_FOUND if value is None else PRESENT for value in values)
        fields = [EMPTY_VALUE if value is None else VALUES + LENGTHS[len(value)] + value for value in values]
        response.results.add().MergeFromString(b"".join([*fields, status_header, statuses, timestamps]))


class _Lengths(dict[int, bytes]):
    """Protocol buffers' base-128 encoding of a length, each one worked out once."""

    def __missing__(self, number: int) -> bytes:
        encoded = bytearray()
        rest = number
        while rest > 0x7F:
            encoded.append(rest & 0x7F | 0x80)
            rest >>= 7
        encoded.append(rest)
        self[number] = bytes(encoded)
        return self[number]


LENGTHS = _Lengths()


def _timestamp_bytes(moment: datetime) -> bytes:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp.SerializeToString()


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


SQLITE_WRITE_BATCH = 1_000
"""Entities whose rows one ``executemany`` writes (progress is reported after each batch)."""


class LakeSqliteOnlineStore(LakeOnlineReads, SqliteOnlineStore):
    """Feast's SQLite store (a row per entity and feature)."""

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        """Feast's upsert of every feature of every entity, given to SQLite in batches of
        :data:`SQLITE_WRITE_BATCH` entities (``executemany``) rather than one ``execute`` per feature: the rows stored
        are the stock store's, and the whole write is still one transaction. Each entity's key and times are
        converted once, not once per feature. The stock store writes stores with vector search or the
        OpenAI-compatible ``value_num`` column."""
        online = config.online_store
        if online.vector_enabled or getattr(online, "enable_openai_compatible_store", False):
            super().online_write_batch(config, table, data, progress)
            return
        name = compute_table_id(config.project, table, config.registry.enable_online_feature_view_versioning)
        upsert = (
            f"INSERT INTO {_quote_id(name)} (entity_key, feature_name, value, value_text, event_ts, created_ts) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
            "value_text = excluded.value_text, event_ts = excluded.event_ts, created_ts = excluded.created_ts"
        )
        version = config.entity_key_serialization_version
        # in key order, as the table's index is: each batch then fills or updates neighbouring pages of the index
        keyed = sorted(
            ((serialize_entity_key(entity[0], entity_key_serialization_version=version), entity) for entity in data),
            key=itemgetter(0),
        )
        connection = self._get_conn(config)
        with connection:
            for start in range(0, len(keyed), SQLITE_WRITE_BATCH):
                batch = keyed[start : start + SQLITE_WRITE_BATCH]
                rows: list[tuple[bytes, str, bytes, str | None, int, int | None]] = []
                for key, (_, values, event_time, created_time) in batch:
                    event = _sqlite_time(event_time)
                    created = None if created_time is None else _sqlite_time(created_time)
                    rows.extend(
                        (key, feature, value.SerializeToString(), extract_text_and_num(value, False)[0], event, created)
                        for feature, value in sorted(values.items(), key=itemgetter(0))
                    )
                connection.executemany(upsert, rows)
                if progress:
                    progress(len(batch))

    def read_stored(self, config: RepoConfig, reads: list[ViewRead]) -> list[list[StoredEntity | None]]:
        """One query per view, for all of each entity's features (the rows of one entity are next to each other
        in the key's index, which also gives their order; asking for some features by name made SQLite search for
        each pair). An entity's time is that of its newest row (Feast writes all of an entity's features with one
        time)."""
        connection = self._get_conn(config)
        version = config.entity_key_serialization_version
        answers = []
        for table, entity_keys, _ in reads:
            keys = [serialize_entity_key(key, entity_key_serialization_version=version) for key in entity_keys]
            name = compute_table_id(config.project, table, config.registry.enable_online_feature_view_versioning)
            # ``event_ts + 0`` has no declared type, so SQLite's converter does not make a datetime of every row
            rows = connection.execute(
                f"SELECT entity_key, feature_name, value, event_ts + 0 FROM {_quote_id(name)} "
                f"WHERE entity_key IN ({','.join('?' * len(keys))}) ORDER BY entity_key",
                keys,
            )
            found = {}
            for key, group in itertools.groupby(rows, key=itemgetter(0)):
                entity = list(group)
                found[key] = (max(row[3] for row in entity), {row[1]: row[2] for row in entity})
            answers.append([_sqlite_entity(found.get(key)) for key in keys])
        return answers


def _sqlite_time(moment: datetime) -> int:
    """A time as the stock store stores it: the adapter Feast registers with ``sqlite3`` for its naive UTC time."""
    return int(adapt_datetime_epoch(utils.to_naive_utc(moment)))


def _sqlite_entity(stored: tuple[int, dict[str, bytes]] | None) -> StoredEntity | None:
    """SQLite holds an entity's naive UTC time as epoch seconds of that time read as local, as Feast writes it."""
    if stored is None:
        return None
    seconds, values = stored
    return _timestamp_bytes(datetime.fromtimestamp(seconds).replace(tzinfo=UTC)), values


class LakeRedisOnlineStoreConfig(RedisOnlineStoreConfig):
    """``online_store`` section for :class:`LakeRedisOnlineStore`; the stock Redis store's settings."""

    type: Literal["lake.feast.online_store.LakeRedisOnlineStore"] = "lake.feast.online_store.LakeRedisOnlineStore"  # type: ignore[assignment]


class LakeRedisOnlineStore(LakeOnlineReads, RedisOnlineStore):
    """Feast's Redis store (a hash per entity, a field per feature); every view's reads go in one pipeline."""

    @property
    def async_supported(self) -> SupportedAsyncMethods:
        """Writes stay asynchronous; reads are not, so that ``feast serve`` (which reads asynchronously where a
        store can, on the stock path) takes these reads, in its thread pool: a read here is mostly CPU, not
        waiting on Redis."""
        return SupportedAsyncMethods(read=False, write=True)

    def read_stored(self, config: RepoConfig, reads: list[ViewRead]) -> list[list[StoredEntity | None]]:
        """As the stock store answers, every asked feature of every entity is PRESENT, empty where the hash has no
        such field, and an entity's time is its stored time to the microsecond (zero when it has none)."""
        commands = []
        for table, entity_keys, features in reads:
            view = compute_versioned_name(table, config.registry.enable_online_feature_view_versioning)
            _, fields = self._generate_hset_keys_for_features(table, list(features), fv_name_override=view)
            commands += [(key, fields) for key in self._generate_redis_keys_for_entities(config, entity_keys)]
        replies = iter(self._read_hash_fields(config, commands))
        return [[_redis_entity(next(replies), features) for _ in entity_keys] for _, entity_keys, features in reads]


def _redis_entity(reply: Sequence[bytes | None], features: list[str]) -> StoredEntity:
    """One ``HMGET`` reply: the features' values, then the view's timestamp field."""
    *values, stored_time = reply
    stamp = Timestamp()
    if stored_time:
        stamp.ParseFromString(stored_time)
    moment = datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1_000_000_000, tz=UTC)
    return _timestamp_bytes(moment), {feature: value or b"" for feature, value in zip(features, values, strict=True)}
