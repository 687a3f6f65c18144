"""Appending Python rows to the lake's bookkeeping tables (pipeline runs, drift, registry, logs) in one commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

from lake.catalog import LakeTransaction

LOG_RETRIES = 9
"""Retries for log tables that several processes append to at once (scoring replicas, SQL endpoint processes)."""


def append_rows(table: Table, rows: Sequence[Mapping[str, Any]], retries: int = 0) -> None:
    """Append ``rows`` (dicts keyed by column name) to ``table`` as one snapshot in the table's own schema.

    Args:
        table: the table to append to.
        rows: the rows; nothing is written when there are none.
        retries: how many times to refresh the table and commit again when another writer's commit won the race
            (several scoring replicas or endpoint processes logging to one table).

    Raises:
        CommitFailedException: the commit still conflicted after ``retries`` retries.
    """
    if not rows:
        return
    batch = pa.Table.from_pylist(list(rows), schema=table.schema().as_arrow())
    for attempt in range(retries + 1):
        try:
            with LakeTransaction(table) as transaction:  # pyiceberg's table.append slows as the log's history grows
                transaction.append(batch)
            return
        except CommitFailedException:
            if attempt == retries:
                raise
            time.sleep(0.05 * (attempt + 1))
            table.refresh()


class BufferedAppends:
    """Rows held in memory and appended to one log table in a single commit per flush, never one per row.

    What a crash can lose is what is buffered; a failed append keeps its rows, first in line, for the next flush.
    Safe to use from several threads.
    """

    def __init__(self, table: Callable[[], Table]) -> None:
        """``table`` gives the table to append to at each flush (it may create it)."""
        self._table = table
        self._rows: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def add(self, rows: Sequence[Mapping[str, Any]], capacity: int | None = None) -> bool:
        """Buffer ``rows``, unless they would take the buffer over ``capacity`` rows.

        Returns:
            Whether the rows were buffered.
        """
        with self._lock:
            if capacity is not None and len(self._rows) + len(rows) > capacity:
                return False
            self._rows.extend(rows)
            return True

    @property
    def pending(self) -> int:
        """Rows buffered and not yet appended."""
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Append every buffered row in one commit (retrying commits lost to other writers, :data:`LOG_RETRIES`).

        Returns:
            The number of rows written.

        Raises:
            Exception: whatever the append raised; the rows stay buffered.
        """
        with self._write_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                append_rows(self._table(), rows, retries=LOG_RETRIES)
            except Exception:
                with self._lock:
                    self._rows[:0] = rows
                raise
            return len(rows)
