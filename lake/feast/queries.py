"""DuckDB SQL for Feast's offline reads over Iceberg files: point-in-time joins and latest-row pulls.

Each feature view's rows are read with ``iceberg_scan`` restricted to the time range the request can use, so
DuckDB prunes data files by their partition and column statistics; the point-in-time join is an ``ASOF LEFT
JOIN`` (for each entity row, the last feature row at or before its timestamp), and a feature row older than
the view's TTL is treated as missing, exactly as Feast's own stores do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ENTITY_TABLE = "lake_entity_rows"
"""Name under which the entity rows are registered in the DuckDB connection."""
ROW_ORDER_COLUMN = "__lake_row"
"""Column added to the entity rows so results come back in their order."""


@dataclass(frozen=True)
class ViewRead:
    """What one feature view contributes to a point-in-time join.

    Attributes:
        scan: SQL table expression of the view's source (an ``iceberg_scan(...)``).
        join_keys: source key column to entity-frame column.
        timestamp_column: the source's event-time column.
        created_column: the source's created-time column (breaks ties between equal event times), if any.
        features: source column to output column, in output order.
        ttl: how long a feature row stays valid; ``None`` for forever.
    """

    scan: str
    join_keys: dict[str, str]
    timestamp_column: str
    created_column: str | None
    features: dict[str, str]
    ttl: timedelta | None


def quote(identifier: str) -> str:
    """Quote a column or table name for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


def timestamp_literal(moment: datetime) -> str:
    """A ``TIMESTAMPTZ`` literal for an aware datetime."""
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def _time_filter(column: str, start: datetime | None, end: datetime | None) -> str:
    conditions = []
    if start is not None:
        conditions.append(f"{quote(column)} >= {timestamp_literal(start)}")
    if end is not None:
        conditions.append(f"{quote(column)} <= {timestamp_literal(end)}")
    return " AND ".join(conditions) or "TRUE"


def _latest_first(timestamp_column: str, created_column: str | None) -> str:
    order = [f"{quote(timestamp_column)} DESC"]
    if created_column:
        order.append(f"{quote(created_column)} DESC")
    return ", ".join(order)


def point_in_time_sql(
    views: Sequence[ViewRead],
    entity_columns: Sequence[str],
    event_timestamp_column: str,
    entity_time_range: tuple[datetime, datetime],
) -> str:
    """SQL joining every view to the entity rows as of each row's event timestamp.

    Args:
        views: the feature views to join, in output order.
        entity_columns: columns of the entity frame, returned first and in this order.
        event_timestamp_column: the entity frame's event-time column.
        entity_time_range: earliest and latest event timestamp among the entity rows (pushed into the scans).

    Returns:
        A query over :data:`ENTITY_TABLE` returning the entity columns then every view's features, in the
        entity rows' order.
    """
    earliest, latest = entity_time_range
    event_time = f"entity.{quote(event_timestamp_column)}"
    ctes, joins = [], []
    outputs = [f"entity.{quote(column)}" for column in entity_columns]
    for index, view in enumerate(views):
        alias = f"view_{index}"
        keys = list(view.join_keys)
        columns = [f"{quote(key)} AS key_{position}" for position, key in enumerate(keys)]
        columns.append(f"{quote(view.timestamp_column)} AS feature_time")
        columns += [f"{quote(source)} AS feature_{position}" for position, source in enumerate(view.features)]
        lowest = earliest - view.ttl if view.ttl else None
        cte = f"{alias} AS (SELECT {', '.join(columns)} FROM {view.scan} AS source WHERE "
        cte += _time_filter(view.timestamp_column, lowest, latest)
        if view.created_column:
            partition = ", ".join(quote(key) for key in [*keys, view.timestamp_column])
            cte += (
                f" QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {quote(view.created_column)} DESC) = 1"
            )
        ctes.append(cte + ")")
        matches = [
            f"entity.{quote(entity_key)} = {alias}.key_{i}" for i, entity_key in enumerate(view.join_keys.values())
        ]
        matches.append(f"{event_time} >= {alias}.feature_time")
        joins.append(f"ASOF LEFT JOIN {alias} ON {' AND '.join(matches)}")
        fresh = f"{alias}.feature_time >= {event_time} - to_microseconds({_microseconds(view.ttl)})" if view.ttl else ""
        for position, output in enumerate(view.features.values()):
            value = f"{alias}.feature_{position}"
            outputs.append(f"{f'CASE WHEN {fresh} THEN {value} END' if fresh else value} AS {quote(output)}")
    return (
        f"WITH {', '.join(ctes)} SELECT {', '.join(outputs)} FROM {ENTITY_TABLE} AS entity "
        f"{' '.join(joins)} ORDER BY entity.{ROW_ORDER_COLUMN}"
    )


def _microseconds(ttl: timedelta | None) -> int:
    return int((ttl or timedelta(0)) / timedelta(microseconds=1))


def rows_in_range_sql(
    scan: str,
    columns: Sequence[str],
    timestamp_column: str,
    start: datetime | None,
    end: datetime | None,
) -> str:
    """SQL for every source row whose event time lies in ``[start, end]`` (either bound optional)."""
    selected = ", ".join(quote(column) for column in dict.fromkeys(columns))
    return f"SELECT {selected} FROM {scan} AS source WHERE {_time_filter(timestamp_column, start, end)}"


def latest_rows_sql(
    scan: str,
    join_keys: Sequence[str],
    columns: Sequence[str],
    timestamp_column: str,
    created_column: str | None,
    start: datetime,
    end: datetime,
) -> str:
    """SQL for the latest row per entity among the rows whose event time lies in ``[start, end]``."""
    rows = rows_in_range_sql(scan, columns, timestamp_column, start, end)
    partition = ", ".join(quote(key) for key in join_keys) or "NULL"
    return (
        f"{rows} QUALIFY row_number() OVER (PARTITION BY {partition} "
        f"ORDER BY {_latest_first(timestamp_column, created_column)}) = 1"
    )


def count_entities_sql(
    scan: str, join_keys: Sequence[str], timestamp_column: str, start: datetime, end: datetime
) -> str:
    """SQL counting the entities with a row whose event time lies in ``[start, end]`` (rows materialization writes)."""
    keys = ", ".join(quote(key) for key in join_keys)
    rows = f"SELECT DISTINCT {keys} FROM {scan} AS source WHERE {_time_filter(timestamp_column, start, end)}"
    return f"SELECT count(*) FROM ({rows})"
