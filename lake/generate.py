"""Synthetic card-fraud landing files: customers, cards, merchants, transactions and late-arriving chargebacks.

The files satisfy the raw contracts (lake/contracts/raw.yml) and are named so the ingester can tell the table:
``customers.parquet``, ``transactions-d0003.parquet``, ``chargebacks-d0012.csv``. A run over D days writes
exactly the union of what D day-at-a-time runs (``start_day=0..D-1``) write, so a daily pipeline can be fed one
day at a time and still end with the same lake. See :mod:`lake.generate_activity` for the fraud patterns.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lake.errors import GenerateError
from lake.generate_activity import DailyActivity
from lake.generate_world import World

FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
"""Output format -> file extension."""
TABLES = ("customers", "cards", "merchants", "transactions", "chargebacks")
WRITES_IN_FLIGHT = 2
"""Files being written in the background while the next day is generated (bounds memory)."""
ISO_UTC = "%Y-%m-%dT%H:%M:%S%.6f%:z"
"""Timestamps in text files: ISO-8601 with microseconds and an explicit UTC offset."""


class LandingTable(NamedTuple):
    """One landing file's worth of rows, before it is written."""

    table: str
    """Raw table name, e.g. ``transactions``."""
    stem: str
    """File name without extension, e.g. ``transactions-d0003``."""
    data: pa.Table


def write_landing_files(
    out: Path,
    rows: int,
    days: int,
    seed: int,
    fmt: str = "parquet",
    start_day: int | None = None,
    start_date: date = date(2026, 1, 1),
    progress: bool = False,
) -> dict[str, list[Path]]:
    """Generate a fraud data set and write it as landing files, one flat folder.

    Args:
        out: folder to write into (created if missing); files of the same names are replaced.
        rows: total transactions over all ``days`` (split with weekly seasonality).
        days: length of the period, starting at ``start_date``.
        seed: any non-negative integer; the same arguments always give the same data.
        fmt: ``parquet``, ``csv`` or ``jsonl``.
        start_day: write only this day (0-based): its transactions and the chargebacks reported on it, plus the
            customers, cards and merchants when it is day 0. ``None`` writes every day.
        start_date: the calendar date of day 0 (UTC).
        progress: show a rich progress bar on the terminal.

    Returns:
        The files written per table name (every table is a key; a table with no rows on a day writes no file).

    Raises:
        GenerateError: a size, day, seed or format is out of range, or ``out`` is not a usable folder.
    """
    if fmt not in FORMATS:
        raise GenerateError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    tables = generate_landing_tables(rows, days, seed, start_day, start_date)
    _prepare_folder(out)
    written: dict[str, list[Path]] = {table: [] for table in TABLES}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar, ThreadPoolExecutor(max_workers=1) as writer:
        task = bar.add_task(f"generating {rows:,} transactions", total=days if start_day is None else 1)
        pending: deque[tuple[str, Future[Path]]] = deque()
        for landing in tables:
            if landing.data.num_rows:
                path = out / f"{landing.stem}.{FORMATS[fmt]}"
                pending.append((landing.table, writer.submit(write_table_file, landing.data, path)))
            while len(pending) > WRITES_IN_FLIGHT:
                table, future = pending.popleft()
                written[table].append(future.result())
            if landing.table == "chargebacks":
                bar.advance(task)
        for table, future in pending:
            written[table].append(future.result())
    return written


def generate_landing_tables(
    rows: int, days: int, seed: int, start_day: int | None = None, start_date: date = date(2026, 1, 1)
) -> Iterator[LandingTable]:
    """The landing tables of a request, in order, one day at a time (see :func:`write_landing_files`).

    Every day yields its transactions then its chargebacks (possibly empty); day 0 starts with customers, cards
    and merchants. Arguments are checked before anything is generated.

    Raises:
        GenerateError: a size, day or seed is out of range.
    """
    if rows < 1:
        raise GenerateError(f"rows must be at least 1 (got {rows}); it is the total number of transactions")
    if days < 1:
        raise GenerateError(f"days must be at least 1 (got {days})")
    if seed < 0:
        raise GenerateError(f"seed must be a non-negative integer (got {seed})")
    if start_day is not None and not 0 <= start_day < days:
        raise GenerateError(f"start day {start_day} is outside the period; use 0..{days - 1} for {days} days")
    return _landing_tables(World(rows, days, seed, start_date), start_day)


def _landing_tables(world: World, start_day: int | None) -> Iterator[LandingTable]:
    activity = DailyActivity(world)
    selected = range(world.days) if start_day is None else range(start_day, start_day + 1)
    if selected.start == 0:
        yield LandingTable("customers", "customers", world.customers_table())
        yield LandingTable("cards", "cards", world.cards_table())
        yield LandingTable("merchants", "merchants", world.merchants_table())
    for day in selected:
        yield LandingTable("transactions", f"transactions-d{day:04d}", activity.transactions_table(day))
        yield LandingTable("chargebacks", f"chargebacks-d{day:04d}", activity.chargebacks_table(day))


def _prepare_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise GenerateError(f"output path {out} exists and is not a folder; choose a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GenerateError(f"cannot create output folder {out}: {error.strerror}") from None


def write_table_file(table: pa.Table, path: Path) -> Path:
    """Write one landing file in the format its extension names, atomically.

    The file is written under a hidden temporary name and then renamed, so a reader never sees half a file.
    Text formats carry timestamps as ISO-8601 with a UTC offset.

    Args:
        table: rows with a contract's Arrow schema.
        path: destination ending in ``.parquet``, ``.csv`` or ``.jsonl``.

    Returns:
        ``path``.
    """
    partial = path.with_name(f".{path.name}.partial")
    if path.suffix == ".parquet":
        pq.write_table(table, partial)
    else:
        frame = pl.DataFrame(table).with_columns(pl.col(pl.Datetime).dt.to_string(ISO_UTC))
        if path.suffix == ".csv":
            frame.write_csv(partial)
        else:
            frame.write_ndjson(partial)
    os.replace(partial, path)
    return path
