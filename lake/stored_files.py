"""Files under a table's location as stored: listing and deleting them, whether or not metadata reaches them.

Listing and deleting go through pyarrow's file system of pyiceberg's own FileIO, built from the table's FileIO
properties, so a local warehouse and an ``s3://`` one (with the catalog's endpoint and keys) work the same.
Paths come in the file system's form, with the scheme stripped (``/abs/path`` locally, ``bucket/key`` on S3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pyarrow.fs import FileSelector, FileSystem, FileType
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.utils.concurrent import ExecutorFactory


@dataclass(frozen=True)
class StoredFile:
    """One file under a table's location."""

    path: str
    size: int
    modified: datetime


def table_file_system(io: FileIO, location: str) -> tuple[FileSystem, str]:
    """The pyarrow file system holding ``location`` (with the FileIO's credentials) and its root path on it."""
    file_io = PyArrowFileIO(io.properties)
    scheme, netloc, path = file_io.parse_location(location, file_io.properties)
    return file_io.fs_by_scheme(scheme, netloc), path


def list_stored_files(fs: FileSystem, root: str) -> list[StoredFile]:
    """Every file below ``root`` (recursively), with its size and modification time."""
    infos = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
    return [StoredFile(info.path, info.size, info.mtime) for info in infos if info.type == FileType.File]


def delete_stored_files(fs: FileSystem, paths: Iterable[str]) -> None:
    """Delete the files (in parallel on pyiceberg's worker pool: one request each on object storage)."""
    list(ExecutorFactory.get_or_create().map(fs.delete_file, paths))
