"""Streaming readers: a landing file as a sequence of Polars frames, never the whole file in memory.

Text formats (CSV, JSON Lines) are read with every column as text, so a value that does not fit its type
reaches validation intact and can be quarantined with what was actually sent.
"""

from __future__ import annotations

import codecs
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
MAX_RECORD_CHUNKS = 4
"""A record may span this many text chunks at the most: past that, a record that never ends (a CSV quote that is
never closed) is damage, rather than the rest of the file read into memory in search of its end."""


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
    """Cut the file at record ends into blocks and parse each with Arrow's multi-threaded reader.

    Arrow's streaming CSV reader is single-threaded. Quoted values may hold line ends, which Arrow parses more
    slowly, so only blocks with a quote are parsed that way. Only an empty unquoted field is null: ``NA``,
    ``null`` or ``NaN`` are values as sent (``NA`` is Namibia), and a quoted empty field is an empty string. A
    UTF-8 byte order mark before the header is dropped.
    """
    with path.open("rb") as handle:
        header = next(csv.reader([handle.readline().decode("utf-8-sig")]), None)
        if not header:
            raise IngestError(f"{path.name} has no header line")
        read_options = pacsv.ReadOptions(column_names=header)
        convert_options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.large_string()),
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
        )
        for block in _record_blocks(handle, quoted=True):
            parse_options = pacsv.ParseOptions(newlines_in_values=b'"' in block)
            table = pacsv.read_csv(io.BytesIO(block), read_options, parse_options, convert_options)
            yield pl.DataFrame(table)


def _jsonl_chunks(path: Path, _: int) -> Iterator[pl.DataFrame]:
    """JSON Lines blocks (a newline inside a JSON string is escaped, so every line end ends a record)."""
    with path.open("rb") as handle:
        if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            handle.seek(0)
        for block in _record_blocks(handle, quoted=False):
            yield _jsonl_frame(block)


def _record_blocks(handle: BinaryIO, quoted: bool) -> Iterator[bytes]:
    """The rest of the file in blocks of about :data:`TEXT_CHUNK_BYTES`, each ending at a record end.

    Args:
        handle: the file, positioned at the start of a record.
        quoted: values may be double-quoted (CSV) and hold line ends, so a line end ends a record only
            outside quotes.

    Raises:
        csv.Error: a record does not end within :data:`MAX_RECORD_CHUNKS` chunks (a quote never closed).
    """
    rest, start = b"", handle.tell()
    while block := handle.read(TEXT_CHUNK_BYTES):
        block = rest + block
        cut = _last_record_end(block) if quoted else block.rfind(b"\n") + 1
        rest, start = block[cut:], start + cut
        if cut:
            yield block[:cut]
        elif len(rest) > MAX_RECORD_CHUNKS * TEXT_CHUNK_BYTES:
            opened = "a double quote opened in it is never closed?" if quoted else "no line end"
            raise csv.Error(f"the record at byte {start} does not end within {len(rest):,} bytes ({opened})")
    if rest.strip():
        yield rest


def _last_record_end(block: bytes) -> int:
    """The position after the block's last line end outside double quotes (0: none).

    The block starts at a record start, so a line end is outside quotes when an even number of quotes precede it
    (an escaped quote is doubled and keeps the count even).
    """
    quotes_before = block.count(b'"')
    end = len(block)
    while (newline := block.rfind(b"\n", 0, end)) >= 0:
        quotes_before -= block.count(b'"', newline, end)
        if quotes_before % 2 == 0:
            return newline + 1
        end = newline
    return 0


def _jsonl_frame(data: bytes) -> pl.DataFrame:
    """Parse JSON Lines with every key as text: once to learn the keys, once with a text schema."""
    keys = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None).columns
    return pl.read_ndjson(io.BytesIO(data), schema=dict.fromkeys(keys, pl.String))
