"""Materialization that never silently skips: per-view bookkeeping, gap-proof incremental runs, freshness.

Feast records each materialized interval per feature view in its registry; :func:`materialize_incremental_views`
continues every view from its own last end. Feast's ``materialize_incremental`` starts a never-materialized view
at *now* minus its TTL, so for an end date older than that window it writes nothing and still records the
interval as done; here the first run starts at *end* minus the TTL, and an end before a view's last end is an
error instead of a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from feast import FeatureStore, FeatureView

from lake.errors import FeaturesError
from lake.feast.offline_store import count_entities_in_range


@dataclass(frozen=True)
class MaterializedRange:
    """One view's materialization: the event-time range read, the entity rows written online and how long it took."""

    view: str
    start: datetime
    end: datetime
    rows: int
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Write throughput (0 when nothing was written)."""
        return self.rows / self.seconds if self.seconds else 0.0


def _aware(moment: datetime, label: str) -> datetime:
    if moment.tzinfo is None:
        raise FeaturesError(f"{label} {moment.isoformat()} has no time zone; pass an aware time such as ...+00:00")
    return moment.astimezone(UTC)


def _views(store: FeatureStore, names: list[str] | None) -> list[FeatureView]:
    views = {view.name: view for view in store.list_feature_views(allow_cache=False) if view.online}
    if not views:
        raise FeaturesError(
            f"no online feature view is registered in Feast project {store.project!r}: "
            "run `lakeforge features apply` (or `feast apply` in feature_repo/) first"
        )
    unknown = sorted(set(names or []) - set(views))
    if unknown:
        raise FeaturesError(f"unknown feature view(s) {', '.join(unknown)}; known: {', '.join(sorted(views))}")
    return [views[name] for name in names] if names else [views[name] for name in sorted(views)]


def materialize_views(
    store: FeatureStore,
    start: datetime,
    end: datetime,
    views: list[str] | None = None,
    on_view: Callable[[MaterializedRange], None] | None = None,
) -> list[MaterializedRange]:
    """Write the latest value per entity in ``[start, end]`` of each view to the online store.

    Args:
        store: the feature store.
        start: earliest event time to read (aware).
        end: latest event time to read (aware).
        views: view names; default: every online view.
        on_view: called before each view is materialized (progress display).

    Returns:
        One :class:`MaterializedRange` per view.

    Raises:
        FeaturesError: a time is naive, ``start`` is after ``end``, a view is unknown, or none is registered.
    """
    start, end = _aware(start, "start"), _aware(end, "end")
    if start > end:
        raise FeaturesError(f"start {start.isoformat()} is after end {end.isoformat()}; swap them")
    return [_write_range(store, view, start, end, on_view) for view in _views(store, views)]


def materialize_incremental_views(
    store: FeatureStore,
    end: datetime,
    views: list[str] | None = None,
    on_view: Callable[[MaterializedRange], None] | None = None,
) -> list[MaterializedRange]:
    """Continue each view from its last materialized end (first run: ``end`` minus its TTL) up to ``end``.

    Args:
        store: the feature store.
        end: latest event time to read (aware).
        views: view names; default: every online view.
        on_view: called before each view is materialized (progress display).

    Returns:
        One :class:`MaterializedRange` per view (``rows == 0`` and ``start == end`` when already up to date).

    Raises:
        FeaturesError: ``end`` is naive or earlier than a view's last materialized end, a view without a TTL
            was never materialized, a view is unknown, or none is registered.
    """
    end = _aware(end, "end")
    ranges = []
    for view in _views(store, views):
        last = view.most_recent_end_time
        if last is not None and _aware(last, "last end") > end:
            raise FeaturesError(
                f"feature view {view.name} is materialized up to {last.isoformat()}, after the end "
                f"{end.isoformat()}; pass a later end, or refill older data with an explicit --start"
            )
        if last is not None:
            start = _aware(last, "last end")
        elif view.ttl:
            start = end - view.ttl
        else:
            raise FeaturesError(f"feature view {view.name} has no TTL and was never materialized; pass --start")
        if start == end:
            ranges.append(MaterializedRange(view.name, start, end, 0))
            continue
        ranges.append(_write_range(store, view, start, end, on_view))
    return ranges


def _write_range(
    store: FeatureStore,
    view: FeatureView,
    start: datetime,
    end: datetime,
    on_view: Callable[[MaterializedRange], None] | None,
) -> MaterializedRange:
    started = time.perf_counter()
    planned = MaterializedRange(view.name, start, end, count_entities_in_range(view, start, end))
    if on_view:
        on_view(planned)
    store.materialize(start_date=start, end_date=end, feature_views=[view.name])
    return replace(planned, seconds=time.perf_counter() - started)


def feature_freshness(store: FeatureStore) -> dict[str, datetime | None]:
    """Each online feature view's last materialized end time (``None``: never materialized), from the registry.

    Serving reads this to tell how stale the online values may be.

    Raises:
        FeaturesError: no online feature view is registered (the repository was never applied).
    """
    return {view.name: view.most_recent_end_time for view in _views(store, None)}
