"""Primary-key guard: a key enters a raw table once, whether repeated within a file or already in the table.

Keys already in the table are read lazily and only where needed: for day-partitioned tables, only the key
column of the days the file touches (partition pruning does the rest); otherwise the key column once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import polars as pl
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.table import Table

from lake.contracts import Contract

KEY = "__key"
_SEPARATOR = "\x1f"


class KeyGuard:
    """Remembers every key this file has let through and the table's keys of the partitions seen so far."""

    def __init__(self, contract: Contract, table: Table, snapshot_id: int | None) -> None:
        """Guard keys of ``table`` as it was at ``snapshot_id`` (None: the table had no rows)."""
        self._contract = contract
        self._table = table
        self._snapshot_id = snapshot_id
        self._loaded_days: set[date] = set()
        self._loaded_all = False
        self._existing = pl.Series(KEY, [], pl.String)
        self._seen = pl.Series(KEY, [], pl.String)

    def duplicate_reasons(self, good: pl.DataFrame) -> pl.Series:
        """For each (otherwise valid) row in file order: why its key is a duplicate, or null.

        The first valid occurrence of a key within the file wins; later ones and keys already in the table
        are duplicates. Keys of rows that pass are remembered for the next chunk.
        """
        keys = good.select(key_expression(self._contract)).to_series()
        self._load_existing(good)
        in_table = keys.is_in(self._existing)
        in_file = keys.is_in(self._seen) | ~keys.is_first_distinct()
        key_names = ", ".join(self._contract.primary_key)
        reasons = (
            pl.select(
                pl.when(in_table)
                .then(pl.lit(f"{key_names}: primary key already in {self._contract.table_name}"))
                .when(in_file)
                .then(pl.lit(f"{key_names}: duplicate primary key within the file"))
                .otherwise(pl.lit(None, pl.String))
            )
            .to_series()
            .alias("duplicate")
        )
        self._seen = pl.concat([self._seen, keys.filter(reasons.is_null())])
        return reasons

    def _load_existing(self, good: pl.DataFrame) -> None:
        if self._snapshot_id is None or self._loaded_all:
            return
        if not self._contract.partition_by_day:
            self._add_existing(self._scan_keys(AlwaysTrue()))
            self._loaded_all = True
            return
        days = set(good.get_column(self._contract.event_time).dt.date().unique().drop_nulls().to_list())
        new_days = days - self._loaded_days
        if new_days:
            self._add_existing(self._scan_keys(_days_filter(self._contract.event_time, new_days)))
            self._loaded_days |= new_days

    def _scan_keys(self, row_filter: str | BooleanExpression) -> pl.Series:
        scan = self._table.scan(
            row_filter=row_filter,
            selected_fields=tuple(self._contract.primary_key),
            snapshot_id=self._snapshot_id,
        )
        return pl.DataFrame(scan.to_arrow()).select(key_expression(self._contract)).to_series()

    def _add_existing(self, keys: pl.Series) -> None:
        self._existing = pl.concat([self._existing, keys.cast(pl.String)])


def key_expression(contract: Contract) -> pl.Expr:
    """The primary key as one text value per row (columns joined by an unprintable separator)."""
    columns = [pl.col(name).cast(pl.String) for name in contract.primary_key]
    return pl.concat_str(columns, separator=_SEPARATOR).alias(KEY)


def _days_filter(column: str, days: set[date]) -> str:
    """``column`` within any of the days, consecutive days merged into one range (pyiceberg filter syntax)."""
    ranges: list[list[date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] == day:
            ranges[-1][1] = day + timedelta(days=1)
        else:
            ranges.append([day, day + timedelta(days=1)])
    return " OR ".join(f"({column} >= '{_iso(start)}' AND {column} < '{_iso(end)}')" for start, end in ranges)


def _iso(day: date) -> str:
    return datetime.combine(day, time(), tzinfo=UTC).isoformat()
