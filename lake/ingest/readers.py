"""Streaming readers: a landing file as a sequence of Polars frames, never the whole file in memory.

Text formats (CSV, JSON Lines) are read with every column as text, so a value that does not fit its type
reaches validation intact and can be quarantined with what was actually sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lake.errors import IngestError

CHUNK_ROWS = 1_000_000
"""Rows per Parquet chunk: bounds memory while keeping per-chunk overhead small."""
TEXT_CHUNK_BYTES = 64 * 1024 * 1024
"""Bytes per CSV / JSON Lines chunk."""


def read_chunks(path: Path, fmt: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[pl.DataFrame]:
    """Yield the file's rows in order, chunk by chunk.

    Args:
        path: the landing file.
        fmt: ``parquet``, ``csv`` or ``jsonl``.
        chunk_rows: rows per Parquet chunk (text chunks are sized in bytes).

    Raises:
        IngestError: the file is empty, truncated or not in the format its extension claims; raised as soon as
            the reader meets the damage, which may be after some chunks were yielded.
    """
    if path.stat().st_size == 0:
        raise IngestError(f"{path.name} is empty (0 bytes)")
    readers = {"parquet": _parquet_chunks, "csv": _csv_chunks, "jsonl": _jsonl_chunks}
    try:
        yield from readers[fmt](path, chunk_rows)
    except (pa.ArrowException, pl.exceptions.PolarsError, csv.Error, UnicodeDecodeError, OSError) as error:
        raise IngestError(f"{path.name} cannot be read as {fmt} (truncated or corrupt?): {error}") from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Whole row groups at a time, about ``chunk_rows`` rows per chunk, decoded by Polars' own reader.

    Polars decodes straight into its own memory, several times cheaper than Arrow's reader followed by a
    conversion; reading a slice of row groups at a time keeps memory to one chunk.
    """
    with pq.ParquetFile(path) as parquet:
        row_groups = [parquet.metadata.row_group(i).num_rows for i in range(parquet.metadata.num_row_groups)]
    start = rows = 0
    for group_rows in row_groups:
        rows += group_rows
        if rows >= chunk_rows:
            yield _parquet_slice(path, start, rows)
            start, rows = start + rows, 0
    if rows:
        yield _parquet_slice(path, start, rows)


def _parquet_slice(path: Path, start: int, rows: int) -> pl.DataFrame:
    return pl.scan_parquet(path, glob=False, hive_partitioning=False).slice(start, rows).collect()


def _csv_chunks(path: Path, _: int) -> Iterator[pl.DataFrame]:
    """Cut the file at line ends into blocks and parse each with Arrow's multi-threaded reader.

    Arrow's streaming CSV reader is single-threaded; its multi-threaded reader splits at line ends too
    (values may not contain newlines, Arrow's default), so cutting blocks at line ends changes nothing.
    """
    with path.open("rb") as handle:
        header = next(csv.reader([handle.readline().decode("utf-8")]), None)
        if not header:
            raise IngestError(f"{path.name} has no header line")
        options = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.large_string()), strings_can_be_null=True)
        for block in _line_blocks(handle):
            table = pacsv.read_csv(
                io.BytesIO(block), read_options=pacsv.ReadOptions(column_names=header), convert_options=options
            )
            yield pl.DataFrame(table)


def _jsonl_chunks(path: Path, _: int) -> Iterator[pl.DataFrame]:
    with path.open("rb") as handle:
        for block in _line_blocks(handle):
            yield _jsonl_frame(block)


def _line_blocks(handle: BinaryIO) -> Iterator[bytes]:
    """The rest of the file in blocks of about :data:`TEXT_CHUNK_BYTES`, each ending at a line end."""
    rest = b""
    while block := handle.read(TEXT_CHUNK_BYTES):
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if cut:
            yield block[:cut]
    if rest.strip():
        yield rest


def _jsonl_frame(data: bytes) -> pl.DataFrame:
    """Parse JSON Lines with every key as text: once to learn the keys, once with a text schema."""
    keys = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None).columns
    return pl.read_ndjson(io.BytesIO(data), schema=dict.fromkeys(keys, pl.String))
