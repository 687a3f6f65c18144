"""Primary-key guard: a key enters a raw table once, whether repeated within a file, across the files of a batch,
or already in the table.

Keys already in the table are read once per batch, lazily (only when a row passes validation), and only the key
column: a key must be unique over the whole table, so a row resent with a different event time (another day
partition) is still a duplicate.
"""

from __future__ import annotations

import polars as pl
from pyiceberg.table import Table

from lake.contracts import Contract

KEY, HASH = "__key", "__hash"
_SEPARATOR = "\x1f"
_SEED = 0


class KeySet:
    """A growing set of keys whose membership test costs one pass over 64-bit hashes, not a rehash of every key held.

    A batch of 10M rows checks each chunk against up to 10M keys; hashing those keys again for every chunk would
    dominate ingestion. A hash match is confirmed by comparing the keys themselves, so the test is exact.
    """

    def __init__(self) -> None:
        self._held = pl.DataFrame(schema={KEY: pl.String, HASH: pl.UInt64})

    def add(self, keyed: pl.DataFrame) -> None:
        """Add keys (a frame from :func:`hashed`)."""
        self._held.vstack(keyed, in_place=True)

    def update(self, other: KeySet) -> None:
        """Add every key of ``other``."""
        self.add(other._held)

    def contains(self, keyed: pl.DataFrame) -> pl.Series:
        """For each key of ``keyed`` (a frame from :func:`hashed`): whether the set holds it."""
        candidates = self._held.filter(pl.col(HASH).is_in(keyed.get_column(HASH).implode()))
        if candidates.is_empty():
            return pl.zeros(keyed.height, pl.Boolean, eager=True)
        return keyed.get_column(KEY).is_in(candidates.get_column(KEY).implode())


class KeyGuard:
    """The keys of the table (as of one snapshot), of the batch's earlier files, and of the current file so far."""

    def __init__(self, contract: Contract, table: Table, snapshot_id: int | None) -> None:
        """Guard keys of ``table`` as it was at ``snapshot_id`` (None: the table had no rows)."""
        self._contract = contract
        self._table = table
        self._snapshot_id = snapshot_id
        self._loaded = False
        self._earlier = KeySet()
        """Keys in the table or let through by an earlier file of the batch."""
        self._file = KeySet()
        """Keys let through by earlier chunks of the current file."""

    def duplicate_reasons(self, good: pl.DataFrame) -> pl.Series:
        """For each (otherwise valid) row in file order: why its key is a duplicate, or null.

        The first valid occurrence of a key within the file wins; later ones, and keys already in the table or
        let through by an earlier file of the batch, are duplicates. Keys of rows that pass are remembered.
        """
        keyed = hashed(good.select(key_expression(self._contract)).to_series())
        self._load_existing()
        in_table = self._earlier.contains(keyed)
        in_file = self._file.contains(keyed) | ~_first_occurrences(keyed)
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
        self._file.add(keyed.filter(reasons.is_null()))
        return reasons

    def end_file(self, keep: bool) -> None:
        """The current file is done: its keys count for the batch's later files (keep) or are forgotten (rejected)."""
        if keep:
            self._earlier.update(self._file)
        self._file = KeySet()

    def _load_existing(self) -> None:
        """Read the key column of the whole table (as of the snapshot) into the set of earlier keys, once."""
        if self._snapshot_id is None or self._loaded:
            return
        scan = self._table.scan(selected_fields=tuple(self._contract.primary_key), snapshot_id=self._snapshot_id)
        self._earlier.add(hashed(pl.DataFrame(scan.to_arrow()).select(key_expression(self._contract)).to_series()))
        self._loaded = True


def hashed(keys: pl.Series) -> pl.DataFrame:
    """Keys next to their 64-bit hashes, the form :class:`KeySet` works on."""
    return pl.DataFrame({KEY: keys.cast(pl.String), HASH: keys.hash(_SEED)})


def _first_occurrences(keyed: pl.DataFrame) -> pl.Series:
    """Whether each key is its first occurrence in the frame; strings are compared only if two hashes are equal."""
    first = keyed.get_column(HASH).is_first_distinct()
    return first if first.all() else keyed.get_column(KEY).is_first_distinct()


def key_expression(contract: Contract) -> pl.Expr:
    """The primary key as one text value per row (columns joined by an unprintable separator)."""
    columns = [pl.col(name).cast(pl.String) for name in contract.primary_key]
    return pl.concat_str(columns, separator=_SEPARATOR).alias(KEY)
