"""Online features for a batch of transactions, fetched in one call through the Feast service ``fraud_model_v1``.

A transaction names its card and merchant; the customer features need the card's holder, which this module
reads once from ``raw.cards`` (card ids are immutable, and cards issued later are picked up by
:meth:`OnlineFeatureLookup.refresh`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feast import FeatureService, FeatureStore
from feast.errors import FeatureServiceNotFoundException
from feast.online_response import TIMESTAMP_POSTFIX
from pyiceberg.table import Table

from lake.catalog import load_catalog
from lake.errors import ScoringError
from lake.feast.environment import open_feature_store
from lake.feast.materialization import feature_freshness
from lake.settings import Settings

log = logging.getLogger(__name__)

CARDS_TABLE = "raw.cards"
"""Where a card's holder (``customer_id``) is read from."""
ENTITY_VIEWS = {"card": "card_features", "merchant": "merchant_features", "customer": "customer_features"}
"""The feature view holding each entity's stored features."""


@dataclass(frozen=True)
class FeatureBatch:
    """Online features of a batch of transactions.

    Attributes:
        values: feature name to one value per transaction (``None`` where missing), as Feast returns them.
        value_times: feature view to the event time of the value used per transaction (``None``: not found).
        unknown_entities: per transaction, the entities without stored features.
    """

    values: dict[str, list[Any]]
    value_times: dict[str, list[datetime | None]]
    unknown_entities: list[list[str]]


def read_card_holders(cards: Table) -> dict[str, str]:
    """``card_id -> customer_id`` for every card of a ``raw.cards`` table."""
    rows = cards.scan(selected_fields=("card_id", "customer_id")).to_arrow()
    return dict(zip(rows.column("card_id").to_pylist(), rows.column("customer_id").to_pylist(), strict=True))


class OnlineFeatureLookup:
    """Fetches a feature service's online values for transactions, with the freshness of each view."""

    def __init__(self, settings: Settings, service_name: str) -> None:
        """Open the profile's feature store and resolve the service.

        Args:
            settings: where the Feast registry, online store and catalog are.
            service_name: the Feast feature service the model was trained through.

        Raises:
            ScoringError: the service is not registered (``lakeforge features apply`` was not run).
        """
        self._catalog = load_catalog(settings)
        self._store: FeatureStore = open_feature_store(settings)
        self._service = self._feature_service(service_name)
        stored = {view.name for view in self._store.list_feature_views()}
        self._probe = {
            projection.name: projection.features[0].name
            for projection in self._service.feature_view_projections
            if projection.name in stored
        }
        self._holders: dict[str, str] = {}
        self._cards_snapshot: int | None = None
        self._materialized: dict[str, datetime | None] = {}
        if not self._catalog.table_exists(CARDS_TABLE):
            log.warning("no table %s yet: customer features stay missing until cards are ingested", CARDS_TABLE)
        self.refresh()

    def _feature_service(self, name: str) -> FeatureService:
        try:
            return self._store.get_feature_service(name)
        except FeatureServiceNotFoundException as error:
            raise ScoringError(
                f"feature service {name!r} is not in the Feast registry ({error}); run `lakeforge features apply`"
            ) from None

    @property
    def service_name(self) -> str:
        """The Feast feature service in use."""
        return str(self._service.name)

    def refresh(self) -> None:
        """Re-read each view's materialization end, and the card holders when ``raw.cards`` has a new snapshot."""
        self._materialized = feature_freshness(self._store)
        if self._catalog.table_exists(CARDS_TABLE):
            cards = self._catalog.load_table(CARDS_TABLE)
            snapshot = cards.current_snapshot()
            snapshot_id = snapshot.snapshot_id if snapshot else None
            if snapshot_id != self._cards_snapshot:
                self._holders, self._cards_snapshot = read_card_holders(cards), snapshot_id

    def materialized_until(self) -> dict[str, datetime | None]:
        """Each stored view's last materialization end, as of the last :meth:`refresh`."""
        return dict(self._materialized)

    def lookup(self, transactions: Sequence[dict[str, Any]]) -> FeatureBatch:
        """Online features for each transaction (card, merchant, card holder and request amount).

        Args:
            transactions: rows with at least ``card_id``, ``merchant_id`` and ``amount_cents``.

        Returns:
            The feature values, their event times and the unknown entities, in transaction order.
        """
        rows = [
            {
                "card_id": row["card_id"],
                "merchant_id": row["merchant_id"],
                "customer_id": self._holders.get(row["card_id"], ""),
                "amount_cents": row["amount_cents"],
            }
            for row in transactions
        ]
        answer = self._store.get_online_features(features=self._service, entity_rows=rows).to_dict(
            include_event_timestamps=True
        )
        value_times = {
            view: [
                datetime.fromtimestamp(seconds, UTC) if seconds else None
                for seconds in answer[probe + TIMESTAMP_POSTFIX]
            ]
            for view, probe in self._probe.items()
        }
        values = {name: column for name, column in answer.items() if not name.endswith(TIMESTAMP_POSTFIX)}
        unknown = [
            [entity for entity, view in ENTITY_VIEWS.items() if view in value_times and value_times[view][i] is None]
            for i in range(len(rows))
        ]
        return FeatureBatch(values=values, value_times=value_times, unknown_entities=unknown)
