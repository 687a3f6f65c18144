"""The files under a table's location, which of them its metadata still reaches, and deleting the rest.

Listing and deleting go through pyarrow's file system of pyiceberg's own FileIO, built from the table's FileIO
properties, so a local warehouse and an ``s3://`` one (with the catalog's endpoint and keys) work the same.
Paths are compared with their scheme stripped (``/abs/path`` locally, ``bucket/key`` on S3), the form both the
file system listing and :meth:`PyArrowFileIO.parse_location` give.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pyarrow.fs import FileSelector, FileSystem, FileType
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.utils.concurrent import ExecutorFactory

from lake.tables import file_system_path


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


class ReachableFiles:
    """Files a table's metadata reaches: metadata JSONs, statistics, manifest lists, manifests, data/delete files.

    Manifests never change once written, so each one's entries are read once however often it is asked for.
    """

    def __init__(self, io: FileIO) -> None:
        self._io = io
        self._entries: dict[str, frozenset[str]] = {}

    def of(self, metadata: TableMetadata, metadata_location: str, snapshots: Iterable[Snapshot]) -> set[str]:
        """File system paths of everything ``metadata`` (at ``metadata_location``) needs to read ``snapshots``."""
        locations = {
            metadata_location,
            *(entry.metadata_file for entry in metadata.metadata_log),
            *(stats.statistics_path for stats in metadata.statistics),
            *(stats.statistics_path for stats in metadata.partition_statistics),
        }
        for snapshot in snapshots:
            locations.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(self._io):
                locations.add(manifest.manifest_path)
                locations |= self._files_of(manifest)
        return {file_system_path(location) for location in locations}

    def _files_of(self, manifest: ManifestFile) -> frozenset[str]:
        if manifest.manifest_path not in self._entries:
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            self._entries[manifest.manifest_path] = frozenset(entry.data_file.file_path for entry in entries)
        return self._entries[manifest.manifest_path]
