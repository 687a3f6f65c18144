"""Which landing files a path names, their format, their target table and their checksum."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lake.contracts import Contract, get_contract
from lake.errors import ContractError, IngestError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
"""File extension -> reader; text formats (csv, jsonl) are parsed value by value."""
TEXT_FORMATS = frozenset({"csv", "jsonl"})
_HASH_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One landing file, resolved to its reader and contract."""

    path: Path
    fmt: str
    contract: Contract

    @property
    def is_text(self) -> bool:
        """True when values arrive as text and are parsed one by one (CSV, JSON Lines)."""
        return self.fmt in TEXT_FORMATS


def table_of(path: Path) -> str:
    """The raw table a file name points at: the part of the name before the first ``-`` or ``.``."""
    return path.name.split(".", 1)[0].split("-", 1)[0]


def resolve_sources(path: Path, table: str | None = None) -> list[SourceFile]:
    """Every landing file under ``path`` (a file or a folder, searched recursively), checked before any is read.

    Args:
        path: a landing file or a folder of them.
        table: ``raw.<name>`` for every file; default: inferred from each file name.

    Returns:
        The files in name order, each with its format and contract.

    Raises:
        IngestError: the path does not exist, a file has an unsupported extension, or no contract matches the
            table (named or inferred); nothing has been ingested when this is raised.
    """
    if not path.exists():
        raise IngestError(f"path {str(path)!r} does not exist; pass a landing file or a folder of them")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
    if not files:
        raise IngestError(f"folder {str(path)!r} holds no files to ingest")
    sources, problems = [], []
    for file in files:
        fmt = FORMATS.get(file.suffix.lower())
        if fmt is None:
            problems.append(f"{file}: unsupported format {file.suffix or '(no extension)'!r}")
            continue
        try:
            sources.append(SourceFile(file, fmt, get_contract(table or table_of(file))))
        except ContractError as error:
            problems.append(f"{file}: {error}")
    if problems:
        raise IngestError(
            "cannot ingest " + "; ".join(problems) + f". Supported formats: {', '.join(sorted(FORMATS))}; name files "
            "<table>.<ext> or <table>-<suffix>.<ext>, or pass --table raw.NAME. Nothing was ingested."
        )
    return sources


def _hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)


def path_text(path: Path) -> str:
    """The path as text a table can store: bytes of the name that are not UTF-8 become ``\\xNN`` escapes."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def unreadable_reason(path: Path) -> str | None:
    """Why a landing file is rejected before any of it is read (a name that is not UTF-8, no read access), or None."""
    name = path_text(Path(path.name))
    if name != path.name:
        return f"the file name {name} is not valid UTF-8; rename the file"
    try:
        path.open("rb").close()
    except OSError as error:
        return f"{name} cannot be opened: {error.strerror or error}"
    return None


def file_sha256s(paths: list[Path]) -> list[str]:
    """:func:`file_sha256` of each file, several at once (hashing releases the GIL)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        return list(pool.map(file_sha256, paths))


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file's bytes, read in blocks so any file size fits in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def batch_id_of(table_name: str, file_sha256s: Iterable[str]) -> str:
    """A batch is its content and its target: the same files into the same table are the same batch."""
    return hashlib.sha256("\n".join([table_name, *file_sha256s]).encode()).hexdigest()[:32]
