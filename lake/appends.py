"""Appending Python rows to the lake's bookkeeping tables (pipeline runs, drift, registry, logs) in one commit."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

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
            table.append(batch)
            return
        except CommitFailedException:
            if attempt == retries:
                raise
            time.sleep(0.05 * (attempt + 1))
            table.refresh()
