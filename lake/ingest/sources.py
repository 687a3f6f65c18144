"""Which landing files a path names, their format, their target table and their checksum."""

from __future__ import annotations

import hashlib
import os
import stat
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

    A folder's entries are all listed, hidden ones (a name starting with ``.``) aside, and links to folders are
    followed: an entry that is not a readable file (a broken link, a named pipe) is rejected on its own when
    ingested, with the reason, rather than passed over.

    Args:
        path: a landing file or a folder of them.
        table: ``raw.<name>`` for every file; default: inferred from each file name.

    Returns:
        The files in name order, each with its format and contract.

    Raises:
        IngestError: the path does not exist, a folder under it cannot be listed, a file has an unsupported
            extension, or no contract matches the table (named or inferred); nothing has been ingested when this
            is raised.
    """
    if not path.exists():
        raise IngestError(f"path {str(path)!r} does not exist; pass a landing file or a folder of them")
    files = _folder_entries(path) if path.is_dir() else [path]
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


def _folder_entries(folder: Path) -> list[Path]:
    """Every entry under ``folder`` that is not a folder, hidden ones aside, in name order; a folder reached twice
    through links is listed once.

    Raises:
        IngestError: a folder cannot be listed (its files would otherwise be missed without a word).
    """
    unlisted: list[OSError] = []
    listed: set[str] = set()
    entries = []
    for directory, folders, names in os.walk(folder, followlinks=True, onerror=unlisted.append):
        real = os.path.realpath(directory)
        if real in listed:
            folders.clear()
            continue
        listed.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        entries += [Path(directory, name) for name in names if not name.startswith(".")]
    if unlisted:
        problems = "; ".join(f"{error.filename}: {error.strerror or error}" for error in unlisted)
        raise IngestError(f"cannot list {problems}. Nothing was ingested; fix the folder's permissions and retry.")
    return sorted(entries)


def path_text(path: Path) -> str:
    """The path as text a table can store: bytes of the name that are not UTF-8 become ``\\xNN`` escapes."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def landing_path(path: Path) -> str:
    """Where a landing file was found, as the user named it (absolute, links not followed), as storable text."""
    return path_text(Path(os.path.abspath(path)))


def unreadable_reason(path: Path) -> str | None:
    """Why a landing file is rejected before any of it is read (a name that is not UTF-8, a broken link, not a
    regular file, no read access), or None."""
    name = path_text(Path(path.name))
    if name != path.name:
        return f"the file name {name} is not valid UTF-8; rename the file"
    if path.is_symlink() and not path.exists():
        return f"{name} is a link to {path_text(path.readlink())}, which does not exist"
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return f"{name} is not a regular file (a named pipe, socket or device); only files are ingested"
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
