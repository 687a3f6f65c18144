"""The fraud training set: labeled transactions known at a cutoff, with their features from Feast.

Entity rows are the transactions of ``curated.fct_transactions`` before the cutoff; a transaction is fraud when
``curated.fct_chargebacks`` holds a chargeback for it reported at or before the cutoff (a later report was not yet
known, so it is not a label). Chargebacks arrive days after the payment, so the most recent transactions can be left
out (``maturity``) instead of being counted as legitimate before their label had time to arrive. Features come from
the ``fraud_model_v1`` feature service through Feast's point-in-time join. Every table read is pinned to a snapshot
id, so :func:`rebuild_training_set` can read the same rows again after new data has landed (Iceberg time travel) and
prove it with the content hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from feast import FeatureStore
from feast.infra.data_sources.contrib.iceberg_catalog.iceberg_source import IcebergSource
from pyiceberg.catalog import Catalog

from lake.catalog import load_catalog, load_table
from lake.duck import iceberg_scan_sql
from lake.errors import ModelsError
from lake.feast.environment import open_feature_store
from lake.feast.offline_store import LakeRetrievalJob
from lake.settings import Settings, get_settings
from lake.tables import read_table
from models.registry import FEATURE_SERVICE

TRANSACTIONS_TABLE = "curated.fct_transactions"
CHARGEBACKS_TABLE = "curated.fct_chargebacks"
LABEL = "is_fraud"
EVENT_TIME = "event_timestamp"
FEATURES_KNOWN_BEFORE = timedelta(microseconds=1)
"""Entity rows look up features this long before the transaction, so training sees what scoring will see."""
ENTITY_COLUMNS = ("transaction_id", "card_id", "merchant_id", "customer_id", "amount_cents", EVENT_TIME)
"""Columns of each entity row: the join keys, the request amount the on-demand view reads, and the event time."""


@dataclass(frozen=True)
class TrainingSet:
    """Labeled rows in event-time order, and what they were read from.

    Attributes:
        frame: the entity columns, every feature (as float), and the ``is_fraud`` label.
        features: the feature service's columns, in the order Feast returns them.
        cutoff: labels (chargebacks) known at this instant were used.
        maturity: only transactions older than this at the cutoff were used.
        snapshots: ``namespace.table`` to the snapshot id read.
    """

    frame: pd.DataFrame
    features: list[str]
    cutoff: datetime
    maturity: timedelta
    snapshots: dict[str, int]

    @property
    def content_hash(self) -> str:
        """SHA-256 over column names and every row's values: equal exactly when the rows are equal."""
        digest = hashlib.sha256("\x1f".join(self.frame.columns).encode())
        digest.update(pd.util.hash_pandas_object(self.frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()

    @property
    def positives(self) -> int:
        """Rows labeled fraud."""
        return int(self.frame[LABEL].sum())


def _source_tables(store: FeatureStore, service_name: str) -> dict[str, IcebergSource]:
    """``namespace.table`` of each feature view the service reads, to its Iceberg source."""
    service = store.get_feature_service(service_name)
    sources = {}
    for projection in service.feature_view_projections:
        try:
            view = store.get_feature_view(projection.name)
        except Exception:
            continue
        source = view.batch_source
        if isinstance(source, IcebergSource):
            sources[f"{source.namespace}.{source.iceberg_table}"] = source
    return sources


def _current_snapshots(catalog: Catalog, names: list[str]) -> dict[str, int]:
    snapshots = {}
    for name in names:
        snapshot = load_table(catalog, name).current_snapshot()
        if snapshot is None:
            raise ModelsError(f"table {name} has no data yet; build it first (lakeforge transform)")
        snapshots[name] = snapshot.snapshot_id
    return snapshots


def labeled_transactions(
    catalog: Catalog, cutoff: datetime, snapshots: dict[str, int], maturity: timedelta = timedelta(0)
) -> pd.DataFrame:
    """The entity rows: transactions before ``cutoff - maturity`` with the label known at ``cutoff``, in time order.

    Args:
        catalog: the Iceberg catalog.
        cutoff: an aware instant.
        snapshots: snapshot ids of the transactions and chargebacks tables.
        maturity: leave out transactions younger than this at the cutoff.

    Raises:
        ModelsError: ``cutoff`` has no time zone, or no transaction precedes ``cutoff - maturity``.
    """
    if cutoff.tzinfo is None:
        raise ModelsError(f"cutoff {cutoff.isoformat()} has no time zone; pass an aware instant (e.g. UTC)")
    columns = (*(column for column in ENTITY_COLUMNS if column != EVENT_TIME), "transaction_at")
    transactions = read_table(catalog, TRANSACTIONS_TABLE, snapshot_id=snapshots[TRANSACTIONS_TABLE], columns=columns)
    transactions = transactions.filter(pc.less(transactions["transaction_at"], pa.scalar(cutoff - maturity)))
    if transactions.num_rows == 0:
        raise ModelsError(
            f"no transaction before {(cutoff - maturity).isoformat()} (cutoff minus label maturity); "
            "pick a later cutoff or a shorter maturity"
        )
    chargebacks = read_table(
        catalog, CHARGEBACKS_TABLE, snapshot_id=snapshots[CHARGEBACKS_TABLE], columns=("transaction_id", "reported_at")
    )
    known = chargebacks.filter(pc.less_equal(chargebacks["reported_at"], pa.scalar(cutoff)))["transaction_id"]
    frame = transactions.to_pandas().rename(columns={"transaction_at": EVENT_TIME})
    # Features as known just before the transaction: card_features rows include the transaction they follow,
    # and the online store that scoring reads holds the card's state before the transaction being scored.
    frame[EVENT_TIME] = frame[EVENT_TIME].dt.tz_convert("UTC") - FEATURES_KNOWN_BEFORE
    frame[LABEL] = frame["transaction_id"].isin(known.to_pylist()).astype(np.int8)
    frame = frame.sort_values([EVENT_TIME, "transaction_id"], kind="stable").reset_index(drop=True)
    return frame[[*ENTITY_COLUMNS, LABEL]]


def _assemble(
    entities: pd.DataFrame, features: pd.DataFrame, cutoff: datetime, maturity: timedelta, snapshots: dict[str, int]
) -> TrainingSet:
    names = [column for column in features.columns if column not in entities.columns]
    frame = entities.copy()
    for name in names:
        frame[name] = pd.to_numeric(features[name], errors="coerce").astype(np.float64).to_numpy()
    return TrainingSet(frame=frame, features=names, cutoff=cutoff, maturity=maturity, snapshots=snapshots)


def _historical_job(store: FeatureStore, entities: pd.DataFrame, service_name: str) -> LakeRetrievalJob:
    job = store.get_historical_features(
        entity_df=entities.drop(columns=[LABEL]),
        features=store.get_feature_service(service_name),
        full_feature_names=False,
    )
    if not isinstance(job, LakeRetrievalJob):
        raise ModelsError(f"the Feast offline store must be the lake's; feature_store.yaml gives {type(job).__name__}")
    return job


def fetch_training_set(
    cutoff: datetime,
    maturity: timedelta = timedelta(0),
    settings: Settings | None = None,
    service_name: str = FEATURE_SERVICE,
) -> TrainingSet:
    """Ask Feast for the training set of the feature service, with labels known at ``cutoff``.

    Args:
        cutoff: an aware instant; later transactions and later-reported chargebacks are left out.
        maturity: leave out transactions younger than this at the cutoff (their labels have not arrived).
        settings: settings to use; default: the process settings.
        service_name: the Feast feature service.

    Raises:
        ModelsError: a table is empty or missing, no transaction precedes the cutoff, or a table changed while
            it was read (retry).
    """
    settings = settings or get_settings()
    catalog = load_catalog(settings)
    store = open_feature_store(settings)
    names = [TRANSACTIONS_TABLE, CHARGEBACKS_TABLE, *sorted(_source_tables(store, service_name))]
    snapshots = _current_snapshots(catalog, names)
    entities = labeled_transactions(catalog, cutoff, snapshots, maturity)
    features = _historical_job(store, entities, service_name).to_df()
    if _current_snapshots(catalog, names) != snapshots:
        raise ModelsError("a table changed while the training set was read (new data landed); run training again")
    return _assemble(entities, features, cutoff, maturity, snapshots)


class PinnedRetrievalJob(LakeRetrievalJob):
    """The lake offline store's point-in-time queries with each feature table read at a recorded snapshot.

    The lake offline store scans each table's current snapshot; this job runs the same queries (and Feast's
    on-demand transformations) with every ``iceberg_scan`` pinned to the snapshot a model version recorded.
    """

    def __init__(self, job: LakeRetrievalJob, pins: dict[str, str]) -> None:
        queries = list(job.queries)
        for current, pinned in pins.items():
            if not any(current in query for query in queries):
                raise ModelsError(f"the offline store's queries do not scan {current}; cannot pin it to a snapshot")
            queries = [query.replace(current, pinned) for query in queries]
        super().__init__(
            job._connection, queries, job.on_demand_feature_views, job.full_feature_names, job.metadata, job.entity_rows
        )


def rebuild_training_set(
    cutoff: datetime,
    maturity: timedelta,
    snapshots: dict[str, int],
    settings: Settings | None = None,
    service_name: str = FEATURE_SERVICE,
) -> TrainingSet:
    """Rebuild a training set from recorded snapshot ids, whatever has landed since (Iceberg time travel).

    Args:
        cutoff: the cutoff the training set was built with.
        maturity: the label maturity it was built with.
        snapshots: ``namespace.table`` to snapshot id, as recorded in a model version's lineage.
        settings: settings to use; default: the process settings.
        service_name: the Feast feature service.

    Raises:
        ModelsError: a table the service reads has no recorded snapshot, or a snapshot no longer exists.
    """
    settings = settings or get_settings()
    catalog = load_catalog(settings)
    store = open_feature_store(settings)
    missing = sorted({TRANSACTIONS_TABLE, CHARGEBACKS_TABLE, *_source_tables(store, service_name)} - set(snapshots))
    if missing:
        raise ModelsError(f"the recorded lineage has no snapshot for {', '.join(missing)}; it cannot be rebuilt")
    pins = {}
    for name in _source_tables(store, service_name):
        table = load_table(catalog, name)
        if table.snapshot_by_id(snapshots[name]) is None:
            raise ModelsError(f"snapshot {snapshots[name]} of {name} was expired; the training set cannot be rebuilt")
        pins[iceberg_scan_sql(table)] = iceberg_scan_sql(table, snapshots[name])
    entities = labeled_transactions(catalog, cutoff, snapshots, maturity)
    features = PinnedRetrievalJob(_historical_job(store, entities, service_name), pins).to_df()
    return _assemble(entities, features, cutoff, maturity, snapshots)


def split_by_time(
    training_set: TrainingSet, validation_fraction: float = 0.15, test_fraction: float = 0.15
) -> dict[str, pd.DataFrame]:
    """Split into train, validation and test periods by event time (never at random).

    The boundaries are event times, so rows sharing a timestamp stay in one period and every validation row
    is later than every training row, every test row later than every validation row.

    Args:
        training_set: the rows, in event-time order.
        validation_fraction: share of rows (roughly) in the validation period.
        test_fraction: share of rows (roughly) in the test period.

    Returns:
        ``{"train": ..., "validation": ..., "test": ...}``.

    Raises:
        ModelsError: the fractions are out of range, or a period ends up empty or without a fraud label.
    """
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ModelsError(f"validation ({validation_fraction}) and test ({test_fraction}) fractions must be in (0, 1)")
    frame = training_set.frame
    times = frame[EVENT_TIME]
    first_test = times.iloc[int(len(frame) * (1 - test_fraction))]
    first_validation = times.iloc[int(len(frame) * (1 - test_fraction - validation_fraction))]
    periods = {
        "train": frame[times < first_validation],
        "validation": frame[(times >= first_validation) & (times < first_test)],
        "test": frame[times >= first_test],
    }
    for name, period in periods.items():
        if period.empty or not period[LABEL].any():
            raise ModelsError(
                f"the {name} period has {len(period)} rows and {int(period[LABEL].sum())} fraud labels; "
                "train needs labels in every period: pick a later cutoff or load more data"
            )
    return {name: period.reset_index(drop=True) for name, period in periods.items()}


def describe_periods(periods: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Rows, fraud labels and time span of each period, for lineage and the report."""
    return {
        name: {
            "rows": len(period),
            "fraud": int(period[LABEL].sum()),
            "start": period[EVENT_TIME].min().isoformat(),
            "end": period[EVENT_TIME].max().isoformat(),
        }
        for name, period in periods.items()
    }
